/**
 * Numbers the event-loop turns in which token-bearing events arrive, as a stand-in for the socket
 * read that carried them (pi's events do not say). Everything between a socket read and pi's
 * `message_update` (HTTP parsing, SSE, pi's stream and event queue) runs in promise callbacks,
 * within the turn of that read; the next read is handled in a later turn. So events that share a
 * number arrived together, and the gaps between them say nothing about generation speed, exactly
 * as tokbench's own client marks chunks of one socket read.
 *
 * The number moves on in a `setImmediate` after the first event of a turn: one callback per turn
 * with events, none while nothing arrives.
 */
export class ReadClock {
  private turn = 0;
  private pending = false;
  private readonly advance = (): void => {
    this.turn++;
    this.pending = false;
  };

  /** The number of the current turn. */
  current(): number {
    if (!this.pending) {
      this.pending = true;
      setImmediate(this.advance);
    }
    return this.turn;
  }
}
