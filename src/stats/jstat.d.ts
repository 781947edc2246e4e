// jstat ships no type declarations; this declares the one part tokbench uses.
declare module "jstat" {
  export const jStat: {
    studentt: { cdf(x: number, degreesOfFreedom: number): number };
  };
}
