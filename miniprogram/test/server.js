/* The real server for the SDK tests: a Daphne process this test starts, kills and starts
 * again. tests/miniprogram/test_sdk.py runs these tests and passes what the server needs:
 * HUILIAO_PYTHON (the interpreter), HUILIAO_ROOT (the checkout) and HUILIAO_SERVER_ENV (a
 * JSON environment: the test database, the fake WeChat). */
"use strict";

const { spawn } = require("node:child_process");
const net = require("node:net");
const fs = require("node:fs");
const path = require("node:path");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

class Server {
  constructor(port, logPath) {
    this.port = port;
    this.logPath = logPath;
    this.process = null;
  }

  get baseUrl() {
    return "http://127.0.0.1:" + this.port;
  }

  async start() {
    const env = JSON.parse(process.env.HUILIAO_SERVER_ENV);
    const log = fs.openSync(this.logPath, "a");
    this.process = spawn(
      process.env.HUILIAO_PYTHON,
      ["-m", "daphne", "-e", `tcp:port=${this.port}:interface=127.0.0.1`, "huiliao_site.asgi:application"],
      { cwd: process.env.HUILIAO_ROOT, env, stdio: ["ignore", log, log] },
    );
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      if (this.process.exitCode !== null) throw new Error("daphne exited: " + this.log().slice(-2000));
      if (await listening(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("daphne did not start");
  }

  /* SIGKILL: no goodbye to any socket, as when the machine or the process dies. */
  async kill() {
    if (!this.process || this.process.exitCode !== null) return;
    const exited = new Promise((r) => this.process.once("exit", r));
    this.process.kill("SIGKILL");
    await exited;
  }

  async stop() {
    if (!this.process || this.process.exitCode !== null) return;
    const exited = new Promise((r) => this.process.once("exit", r));
    this.process.kill("SIGTERM");
    await exited;
  }

  log() {
    return fs.existsSync(this.logPath) ? fs.readFileSync(this.logPath, "utf8") : "";
  }
}

async function startServer(name) {
  const dir = process.env.HUILIAO_LOG_DIR || require("node:os").tmpdir();
  const server = new Server(await freePort(), path.join(dir, `daphne-${name}.log`));
  await server.start();
  return server;
}

module.exports = { startServer };
