// An auxiliary Worker for the tests: consumes the OUTBOX queue and keeps what it received,
// so tests can check delivery through a real Queue binding. GET /messages?unit=<unit>
// answers the bodies received for that unit, in arrival order.
const received = [];

export default {
  async queue(batch) {
    for (const message of batch.messages) received.push(message.body);
    batch.ackAll();
  },
  async fetch(request) {
    const unit = new URL(request.url).searchParams.get("unit");
    return Response.json(received.filter((body) => body && body.unit === unit));
  },
};
