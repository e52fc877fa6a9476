// A server-sent event stream read with fetch (the bearer token goes in a header, which
// EventSource cannot send), reconnecting with backoff until stopped.

export class EventStream {
  /**
   * @param {{token: (fresh?: boolean) => Promise<string>, onSignedOut?: () => void}} session
   * @param {string} path
   * @param {(event: string, data: any) => void} onEvent
   * @param {(connected: boolean) => void} [onStatus]
   */
  constructor(session, path, onEvent, onStatus = () => {}) {
    this.session = session;
    this.path = path;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.controller = null;
    this.stopped = false;
    this.failures = 0;
  }

  start() {
    this.stopped = false;
    this.#loop();
    return this;
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async #loop() {
    while (!this.stopped) {
      try {
        await this.#connect(this.failures > 0);
        this.failures = 0;
      } catch (error) {
        if (this.stopped || error?.name === "AbortError") return;
        this.failures += 1;
      }
      this.onStatus(false);
      if (this.stopped) return;
      const delay = this.failures ? Math.min(15000, 1000 * 2 ** Math.min(this.failures, 4)) : 500;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  async #connect(fresh) {
    this.controller = new AbortController();
    try {
      const token = await this.session.token(fresh);
      const response = await fetch(this.path, {
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
          this.#dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
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
    let parsed;
    try {
      parsed = JSON.parse(data.join("\n"));
    } catch {
      return; // a malformed event is dropped; the next one carries the full state again
    }
    this.onEvent(event, parsed);
  }
}
