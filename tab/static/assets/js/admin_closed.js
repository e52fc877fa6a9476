// The admin console's closed-now section: close a queue or an IVR at once, whatever its hours say.

import { h, replaceChildren } from "./dom.js";
import { section } from "./admin_form.js";
import { CLOSED_NOW_HINT, mountClosedNow } from "./closed_now.js";

export async function showClosedNow(content, ctx) {
  const holder = h("div", { id: "closed-now-table" });
  await mountClosedNow(holder, ctx);
  replaceChildren(
    content,
    section("Closed now", h("p", { class: "muted" }, CLOSED_NOW_HINT), holder),
  );
}
