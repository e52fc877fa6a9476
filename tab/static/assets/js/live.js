// Live updates: the server-sent event stream /api/tab/events, read with fetch so that the
// bearer token travels in the Authorization header (EventSource cannot send headers).

export class LiveFeed {
  /**
   * @param {{token: (fresh?: boolean) => Promise<string>}} session
   * @param {(event: string, data: any) => void} onEvent
   * @param {(connected: boolean) => void} [onStatus]
   */
  constructor(session, onEvent, onStatus = () => {}) {
    this.session = session;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.controller = null;
    this.stopped = false;
    this.failures = 0;
  }

  start() {
    this.stopped = false;
    this.#loop();
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async #loop() {
    while (!this.stopped) {
      const fresh = this.failures > 0;
      try {
        await this.#connect(fresh);
        this.failures = 0;
      } catch (error) {
        if (this.stopped || error?.name === "AbortError") return;
        this.failures += 1;
      }
      this.onStatus(false);
      if (this.stopped) return;
      const delay = Math.min(15000, 1000 * 2 ** Math.min(this.failures, 4));
      await new Promise((resolve) => setTimeout(resolve, this.failures ? delay : 500));
    }
  }

  async #connect(fresh) {
    this.controller = new AbortController();
    try {
      const token = await this.session.token(fresh);
      const response = await fetch("/api/tab/events", {
        headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
        signal: this.controller.signal,
        cache: "no-store",
      });
      if (response.status === 401 && fresh) {
        // Even a fresh token is refused: the sign-in is over (demo) or not allowed.
        this.stopped = true;
        this.session.onSignedOut?.();
        return;
      }
      if (!response.ok || !response.body) throw new Error(`event stream: ${response.status}`);
      this.onStatus(true);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          this.#dispatch(frame);
        }
      }
    } finally {
      this.controller = null;
    }
  }

  #dispatch(frame) {
    let event = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return;
    try {
      this.onEvent(event, JSON.parse(data.join("\n")));
    } catch (error) {
      // A malformed event is dropped; the next one carries the full state again.
    }
  }
}
