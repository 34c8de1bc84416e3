/** Injectable time for the backend, so expiry is tested without sleeping. */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();
export function plusMinutes(d: Date, minutes: number): string {
  return new Date(d.getTime() + minutes * 60_000).toISOString();
}
