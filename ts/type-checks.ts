// Compile-time checks that a list written in TS and a union it must match (often one generated
// from crates/sys's tables into ts/native.d.ts) agree: a value of these types is `true` only when
// they do, so a variant added on one side and not the other fails `tsc`.

/** `true` when `Listed` names every member of `Union`; otherwise the members it leaves out. */
export type ListsAll<Union, Listed> = [Exclude<Union, Listed>] extends [never] ? true : Exclude<Union, Listed>

/** `true` when `A` and `B` are the same union; otherwise `never`. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never
