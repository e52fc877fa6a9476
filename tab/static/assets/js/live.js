// Live updates: the server-sent event stream /api/tab/events (see stream.js for how it is
// read and kept open).

import { EventStream } from "./stream.js";

export class LiveFeed extends EventStream {
  /**
   * @param {{token: (fresh?: boolean) => Promise<string>, onSignedOut?: () => void}} session
   * @param {(event: string, data: any) => void} onEvent
   * @param {(connected: boolean) => void} [onStatus]
   */
  constructor(session, onEvent, onStatus = () => {}) {
    const handle = (event, data) => {
      try {
        onEvent(event, data);
      } catch {
        // An event the page cannot show is dropped; the next one carries the full state again.
      }
    };
    super(session, "/api/tab/events", handle, onStatus);
  }
}
