// client.js: an isopool client in Node, over NNG's REQ/REP and msgpack.
//
// Sends one call job (double.js with 21) and one eval job (a module's text)
// to an isopool service and prints each value as JSON, one a line:
//
//   npm ci && node client.js [URL [TIMEOUT_MS]]
//
// URL defaults to tcp://127.0.0.1:7447, TIMEOUT_MS (each job's deadline)
// to 10000.
//
// The wire protocol is docs/protocol.md: a msgpack map over a REQ0 socket,
// one request and one reply per message. NNG has no maintained binding on
// npm; `nanomsg` binds nanomsg, NNG's predecessor, whose REQ/REP speaks the
// same wire protocol over tcp:// and ipc:// (not tls+tcp://: put a TLS
// tunnel in front, or use the C library). `@msgpack/msgpack` is the codec.
//
// Resend is turned off before anything is sent: a REQ socket sends a
// request again when it has had no reply for 60 s, and an isopool job is
// not idempotent: it would run twice.
"use strict";
const nano = require("nanomsg");
const { encode, decode } = require("@msgpack/msgpack");

// How much longer than a job's deadline to wait for its reply: the service
// answers a job past its deadline with the error `timeout`, and that answer
// should be the one the caller sees.
const REPLY_MARGIN_MS = 1000;

class JobRejected extends Error {
  // The job's JavaScript threw: name, message and stack are what it threw.
  constructor(error) {
    super(`${error.name}: ${error.message}`);
    this.name = "JobRejected";
    this.jsName = error.name;
    this.jsStack = error.stack;
  }
}

class JobError extends Error {
  // The service did not run the job to its end: code says why.
  constructor(error) {
    super(`${error.code}: ${error.message}`);
    this.name = "JobError";
    this.code = error.code;
  }
}

class Client {
  // One REQ socket connected to url, one job at a time.
  constructor(url = "tcp://127.0.0.1:7447", { timeoutMs = 10000 } = {}) {
    this.timeoutMs = timeoutMs;
    this.nextId = 1;
    this.pending = null;
    this.sock = nano.socket("req");
    // The binding has no option for resend; set it through its bindings
    // (the largest interval, ~24 days: never, for a job).
    const nn = nano._bindings;
    if (nn.Setopt(this.sock.binding, nn.NN_REQ, nn.NN_REQ_RESEND_IVL,
                  2147483647) < 0) {
      throw new Error("cannot turn off REQ resend: " + nn.Err());
    }
    this.sock.rcvmaxsize(16 << 20);  // the service's default --max-message
    this.sock.on("data", (buf) => this.settle(null, buf));
    this.sock.on("error", (err) => this.settle(err));
    if (this.sock.connect(url) < 0) {
      throw new Error(`cannot connect to ${url}`);
    }
  }

  settle(err, buf) {
    const p = this.pending;
    if (!p) {
      return;
    }
    this.pending = null;
    clearTimeout(p.timer);
    if (err) {
      p.reject(err);
      return;
    }
    let reply;
    try {
      reply = decode(buf);
    } catch (e) {
      p.reject(e);
      return;
    }
    switch (reply.status) {
      case "fulfilled":
        p.resolve(reply.value);
        break;
      case "rejected":
        p.reject(new JobRejected(reply.error));
        break;
      default:
        p.reject(new JobError(reply.error));
    }
  }

  job(request) {
    if (this.pending) {
      return Promise.reject(new Error("one job at a time on a REQ socket"));
    }
    const body = encode({ ...request, v: 1, id: this.nextId++,
                          timeout_ms: this.timeoutMs });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        reject(new Error(`no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs + REPLY_MARGIN_MS);
      this.pending = { resolve, reject, timer };
      this.sock.send(Buffer.from(body.buffer, body.byteOffset,
                                 body.byteLength));
    });
  }

  // Calls `exp` of `module` (a file under the service's --modules).
  call(module, args = [], exp = "default") {
    return this.job({ kind: "call", module, export: exp, args });
  }

  // Evaluates `source` (a module's text): its default export, called with
  // args when it is a function.
  eval(source, args = []) {
    return this.job({ kind: "eval", source, args });
  }

  close() {
    this.sock.close();
  }
}

async function main() {
  const client = new Client(process.argv[2], {
    timeoutMs: process.argv[3] ? Number(process.argv[3]) : 10000,
  });
  try {
    console.log(JSON.stringify(await client.call("double.js", [21])));
    console.log(JSON.stringify(
        await client.eval("export default (a, b) => a + b;", [2, 3])));
  } finally {
    client.close();
  }
}

module.exports = { Client, JobRejected, JobError };

if (require.main === module) {
  main().catch((err) => {
    console.error(`client.js: ${err.message}`);
    process.exitCode = 1;
  });
}
