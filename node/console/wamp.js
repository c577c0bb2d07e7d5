// A small WAMP v2 client over WebSocket with the JSON serializer: what the
// console needs of the Caller and Subscriber roles, and WAMP-ticket
// authentication (the owner's password). Message codes are the spec's.

const HELLO = 1, WELCOME = 2, ABORT = 3, CHALLENGE = 4, AUTHENTICATE = 5, GOODBYE = 6;
const ERROR = 8, SUBSCRIBE = 32, SUBSCRIBED = 33, EVENT = 36, CALL = 48, RESULT = 50;

/** A WAMP error from the router or a callee: its URI and its message. */
export class WampError extends Error {
  constructor(uri, message) {
    super(message || uri);
    this.uri = uri;
  }
}

/** Joins `realm` at `url` as `authid` with `ticket`; resolves to a Session. */
export function join(url, realm, authid, ticket) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, ["wamp.2.json"]);
    const session = new Session(socket);
    let joined = false;
    socket.onopen = () => {
      session.send([HELLO, realm, {
        roles: { caller: {}, subscriber: {} },
        authmethods: ["ticket"],
        authid,
      }]);
    };
    socket.onerror = () => {
      if (!joined) reject(new WampError("console.unreachable", "The management service cannot be reached."));
    };
    socket.onclose = () => {
      if (!joined) reject(new WampError("console.unreachable", "The management service closed the connection."));
      session.closed();
    };
    socket.onmessage = (message) => {
      let msg;
      try {
        msg = JSON.parse(message.data);
      } catch {
        socket.close(1003);
        return;
      }
      if (joined) {
        session.receive(msg);
      } else if (msg[0] === CHALLENGE && msg[1] === "ticket") {
        session.send([AUTHENTICATE, ticket, {}]);
      } else if (msg[0] === WELCOME) {
        joined = true;
        session.id = msg[1];
        session.details = msg[2];
        resolve(session);
      } else if (msg[0] === ABORT) {
        reject(new WampError(msg[2], msg[1] && msg[1].message));
        socket.close(1000);
      } else {
        reject(new WampError("console.protocol", "The management service answered out of turn."));
        socket.close(1002);
      }
    };
  });
}

/** A joined WAMP session. */
export class Session {
  constructor(socket) {
    this.socket = socket;
    this.nextRequest = 1;
    this.pending = new Map();
    this.subscriptions = new Map();
    this.onclose = null;
    this.leaving = false;
  }

  send(msg) {
    this.socket.send(JSON.stringify(msg));
  }

  request() {
    return this.nextRequest++;
  }

  /** Calls `procedure`; resolves to its first positional result. */
  call(procedure, args = [], kwargs = {}) {
    const id = this.request();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send([CALL, id, {}, procedure, args, kwargs]);
    });
  }

  /** Subscribes `handler(args, kwargs)` to `topic`. */
  subscribe(topic, handler) {
    const id = this.request();
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (subscription) => {
          this.subscriptions.set(subscription, handler);
          resolve(subscription);
        },
        reject,
      });
      this.send([SUBSCRIBE, id, {}, topic]);
    });
  }

  /** Says GOODBYE and closes. */
  leave() {
    this.leaving = true;
    if (this.socket.readyState === WebSocket.OPEN) {
      this.send([GOODBYE, {}, "wamp.close.close_realm"]);
      this.socket.close(1000);
    }
  }

  receive(msg) {
    const answer = (id, how, value) => {
      const waiting = this.pending.get(id);
      if (waiting) {
        this.pending.delete(id);
        waiting[how](value);
      }
    };
    switch (msg[0]) {
      case RESULT:
        answer(msg[1], "resolve", (msg[3] || [])[0]);
        break;
      case SUBSCRIBED:
        answer(msg[1], "resolve", msg[2]);
        break;
      case ERROR: {
        const args = msg[5] || [];
        answer(msg[2], "reject", new WampError(msg[4], args[0]));
        break;
      }
      case EVENT: {
        const handler = this.subscriptions.get(msg[1]);
        if (handler) handler(msg[4] || [], msg[5] || {});
        break;
      }
      case GOODBYE:
        if (!this.leaving) this.send([GOODBYE, {}, "wamp.close.goodbye_and_out"]);
        this.socket.close(1000);
        break;
      default:
        break;
    }
  }

  closed() {
    for (const waiting of this.pending.values()) {
      waiting.reject(new WampError("console.closed", "The connection to the management service was lost."));
    }
    this.pending.clear();
    if (this.onclose) this.onclose(this.leaving);
  }
}
