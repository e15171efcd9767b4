/**
 * A dense list of matrix rows, one per item, kept up to date as items come, go or move: what a
 * contrastive-pairs query scores. Pure.
 *
 * The matrix store keeps one such list per query shape (every kind, or one kind) holding the
 * representative row of each group of identical vectors, so a query hands the list to the matrix
 * as it is instead of walking every stored entry to pick the representatives.
 *
 * Adding appends; removing moves the last item into the freed place (O(1), order not kept:
 * queries rank by score and id, never by list position).
 */
const INITIAL_CAPACITY = 64;

/**
 * Rows of items, contiguous in an `Int32Array`.
 *
 * @example
 * ```ts
 * const list = new RepresentativeRows<string>();
 * list.add("a", 4);
 * list.add("b", 9);
 * list.delete("a");
 * list.rowList(); // Int32Array [9]
 * list.itemAt(0); // "b"
 * ```
 */
export class RepresentativeRows<Item> {
  private rows = new Int32Array(INITIAL_CAPACITY);
  private readonly items: Item[] = [];
  private readonly positions = new Map<Item, number>();

  /** Number of items. */
  get size(): number {
    return this.items.length;
  }

  has(item: Item): boolean {
    return this.positions.has(item);
  }

  /** The item at `index` of `rowList()`. */
  itemAt(index: number): Item | undefined {
    return this.items[index];
  }

  /** The rows, index i holding the row of `itemAt(i)`. A view, valid until the next change. */
  rowList(): Int32Array {
    return this.rows.subarray(0, this.items.length);
  }

  /** Adds `item` with its row (does nothing when it is already in the list). */
  add(item: Item, row: number): void {
    if (this.positions.has(item)) return;
    const index = this.items.length;
    if (index === this.rows.length) {
      const grown = new Int32Array(this.rows.length * 2);
      grown.set(this.rows);
      this.rows = grown;
    }
    this.items.push(item);
    this.rows[index] = row;
    this.positions.set(item, index);
  }

  /** Removes `item`; the last item takes its place. */
  delete(item: Item): void {
    const index = this.positions.get(item);
    if (index === undefined) return;
    this.positions.delete(item);
    const lastIndex = this.items.length - 1;
    const last = this.items.pop() as Item;
    if (index !== lastIndex) {
      this.items[index] = last;
      this.rows[index] = this.rows[lastIndex] as number;
      this.positions.set(last, index);
    }
  }

  /** Puts `next` in the place of `previous` (when either is undefined: only adds or only removes). */
  replace(previous: Item | undefined, next: Item | undefined, nextRow: number): void {
    if (previous === next) return;
    const index = previous === undefined ? undefined : this.positions.get(previous);
    if (previous === undefined || index === undefined || next === undefined || this.positions.has(next)) {
      if (previous !== undefined) this.delete(previous);
      if (next !== undefined) this.add(next, nextRow);
      return;
    }
    this.positions.delete(previous);
    this.items[index] = next;
    this.rows[index] = nextRow;
    this.positions.set(next, index);
  }

  /** Records that `item`'s row is now `row` (it moved in the matrix). */
  move(item: Item, row: number): void {
    const index = this.positions.get(item);
    if (index !== undefined) this.rows[index] = row;
  }
}
