// The caller-experience sections of the admin console, and the queue form's extra fields.

import { showCallerLists } from "./admin_callers.js";
import { showClosedNow } from "./admin_closed.js";
import { showIvrs } from "./admin_ivr.js";

export { mountQueueExtras } from "./admin_queue_extras.js";

export const CONFIG_SECTIONS = [
  ["ivrs", "IVRs"],
  ["callers", "Caller lists"],
  ["closed", "Closed now"],
];

export const CONFIG_RENDERERS = { ivrs: showIvrs, callers: showCallerLists, closed: showClosedNow };
