/* Every failure the SDK reports: the server's {detail, code} with the HTTP status, or a
 * status 0 with code "network_error" when no answer came at all. */
"use strict";

class HuiliaoError extends Error {
  constructor(status, code, detail) {
    super(detail || code);
    this.name = "HuiliaoError";
    this.status = status;
    this.code = code;
    this.detail = detail || code;
  }
}

function fromResponse(status, body) {
  if (body && typeof body === "object" && typeof body.code === "string") {
    return new HuiliaoError(status, body.code, body.detail);
  }
  return new HuiliaoError(status, "http_" + status, "HTTP " + status);
}

function networkError(detail) {
  return new HuiliaoError(0, "network_error", detail || "The server could not be reached.");
}

module.exports = { HuiliaoError, fromResponse, networkError };
