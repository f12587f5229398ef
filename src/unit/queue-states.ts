/** The states of a queue item (queue.ts, DESIGN.md): the values of `queue.state`. */
export const PENDING = 0;
export const ASSIGNED = 1;
export const FAILED = 2;
