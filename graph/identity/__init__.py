"""Microsoft identity: the bearer tokens the host accepts, checked against published keys.

Graph's calling notifications (:mod:`graph.identity.calling`) and the tab's single sign-on
tokens (:mod:`graph.identity.tab_sso`) are RS256 JWTs whose keys an OpenID configuration
publishes (:mod:`graph.identity.openid_keys`). Both are read through the same steps
(:mod:`graph.identity.tokens`), which turn every JWT error into
:class:`~contactcenter.errors.Unauthorized` with a reason.
"""
