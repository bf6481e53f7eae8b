package io.machinery.outbox.jdbc.internal;

/**
 * How a relay pass's claim finds the senders it locks ({@link RelayPass}'s claim): the bounds at
 * which it moves from listing the senders to reading the waiting rows in pages, and from pages to
 * reading the sender index once. Every claim locks the same rows (each checked again in its locking
 * statement); these only choose how to find them, so they change a pass's cost, never what it
 * publishes. A relay always uses {@link #DEFAULT}; the benchmarks run passes with other values
 * ({@link #LISTING_ONLY}, the plain listing claim, is their baseline) without the relay's public
 * builder offering them.
 *
 * @param minListingBound the fewest senders a claim lists ({@code OutboxTable#listSenders}) before
 *     it reads pages instead; it lists up to twice the senders a pass may claim when that is more.
 *     That bound is also the first page's size, and the fewest waiting rows a claim reads in pages
 *     ({@code OutboxTable#claimPage}, a lookup each) before it claims among the rest by reading the
 *     sender index once ({@code OutboxTable#claimFirstRowsAfter}). Listing is paid on every pass,
 *     also when it ends in pages: about 0.2 ms for 32 senders, 0.8 ms for 64, against 2 ms for the
 *     page that claims 16 of 10,000 (PostgreSQL 15).
 * @param groupingCost pages read up to the table's rows divided by this (its {@code seq}s' span: at
 *     least its rows less one), when that is more than the first page. A row of a page costs about
 *     4 µs (a lookup), a row of the index about 0.3 µs: pages of a sixteenth of the rows cost about
 *     as much as the index, so a pass that would have found its senders just beyond them pays at
 *     most about twice what pages alone would have cost, however large the table, and a pass that
 *     would have read every row in pages (many senders backing off) pays about a fifth. A fixed
 *     bound would make the index read grow with the table where the pages it replaces need not:
 *     5,000 rows of senders backing off in front of healthy ones cost 230 ms a pass in a table of a
 *     million rows with 1,024 rows of pages and the index, 50-60 ms with pages alone. A floor under
 *     this bound (it was 1,024 rows, and 64 per sender a pass may claim) read the same pages in
 *     every benchmarked table of 100,000 rows or more at 16 senders a pass, more in a table of
 *     5,000 rows (about 5,900 pages a pass against 3,100: {@code OutboxClaimBenchmark}, {@code
 *     small-slow-first}), and about twice the pages with 100,000 rows all backing off at 256
 *     senders a pass (16,384 rows of pages).
 * @param pageGrowth how much larger each page is than the one before
 */
public record ClaimTuning(int minListingBound, int groupingCost, int pageGrowth) {

  /** The claim a relay runs: list, then pages, then the sender index once. */
  public static final ClaimTuning DEFAULT = new ClaimTuning(32, 16, 4);

  /**
   * Lists every sender on every pass and claims among them by key: the claim's first path alone,
   * whatever the number of senders (one descent of the sender index per sender, about 10 µs).
   */
  public static final ClaimTuning LISTING_ONLY = new ClaimTuning(Integer.MAX_VALUE - 1, 16, 4);

  /**
   * Checks the values.
   *
   * @throws IllegalArgumentException when one is below 1
   */
  public ClaimTuning {
    positive(minListingBound, "minListingBound");
    positive(groupingCost, "groupingCost");
    positive(pageGrowth, "pageGrowth");
  }

  /** The most senders a claim lists, for a pass that may claim {@code maxSenders}. */
  int listingBound(int maxSenders) {
    return Math.max(minListingBound, (int) Math.min(2L * maxSenders, 1 << 20));
  }

  private static void positive(int value, String what) {
    if (value < 1) {
      throw new IllegalArgumentException(what + " must be at least 1, was " + value);
    }
  }
}
