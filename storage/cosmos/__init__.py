"""The Cosmos DB store: one container per collection, partitioned by ``/tenantId``.

Each document is one item, an envelope around the body the caller gave, so a body comes
back exactly as it was written (:mod:`storage.cosmos.items`). Compare-and-set is Cosmos
DB's own: ``If-Match`` with the item's ``_etag``. Queries are parameterized SQL whose pages
continue after the last document returned, served by the composite indexes each
collection's layout declares. The layout and its reasons are in
docs/decisions/0006-cosmos-layout.md.

The package, lower layers first (none imports a later one):

* :mod:`~storage.cosmos.layout`: containers, indexing policies, valid names;
* :mod:`~storage.cosmos.items`: documents as items and back;
* :mod:`~storage.cosmos.query`: conditions to SQL with parameters, keyset continuations;
* :mod:`~storage.cosmos.errors` and :mod:`~storage.cosmos.charges`: failures as domain
  errors, request units;
* :mod:`~storage.cosmos.store`: :class:`CosmosStore`, the Store on all of these.
"""

from storage.cosmos.charges import RequestCharges
from storage.cosmos.errors import translate_error
from storage.cosmos.items import SYSTEM_PROPERTIES
from storage.cosmos.layout import (
    COLLECTIONS,
    PARTITION_KEY_PATH,
    CollectionLayout,
    Ordering,
    check_layout,
    indexing_policy,
)
from storage.cosmos.store import CosmosStore

__all__ = [
    "COLLECTIONS",
    "PARTITION_KEY_PATH",
    "SYSTEM_PROPERTIES",
    "CollectionLayout",
    "CosmosStore",
    "Ordering",
    "RequestCharges",
    "check_layout",
    "indexing_policy",
    "translate_error",
]
