/** A token bucket for `maxItemsPerSecond`, shared by the workers of one unit. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Throttle {
  private tokens = 1;
  private refilledAt = Date.now();

  constructor(private rate: number) {}

  setRate(rate: number): void {
    this.rate = rate;
  }

  /**
   * Takes up to `max` items' worth of tokens, waiting for the first one; returns 0 when
   * that wait would pass `deadline` (the job then ends its slice and re-arms).
   */
  async take(max: number, deadline: number): Promise<number> {
    for (;;) {
      const now = Date.now();
      // a bucket holding one second of items: bursts stay within the rate
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
      this.refilledAt = now;
      if (this.tokens >= 1) {
        const granted = Math.min(max, Math.floor(this.tokens));
        this.tokens -= granted;
        return granted;
      }
      const wait = Math.ceil(((1 - this.tokens) * 1000) / this.rate);
      if (now + wait > deadline) return 0;
      await sleep(wait);
    }
  }

  /** How long until one token is there. */
  delayUntilNextToken(): number {
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }
}
