package io.machinery.interop;

import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * Go sends, Java works: Redis broker, MongoDB result backend (Go's database, collections and
 * documents).
 */
class RedisMongoDbGoSendsJavaWorksIT extends GoSendsJavaWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.REDIS_MONGODB;
  }

  /**
   * Go's own limit, not Java's: Go's MongoDB backend decodes a stored {@code []uint8} into a {@code
   * primitive.Binary} and a uint64 above 2^63-1 into nothing it can reflect, so Go's client cannot
   * read these results back from MongoDB whoever wrote them (a Go worker cannot even store that
   * uint64: "overflows int64"). The Java backend writes Go's encodings (Binary, Int64; Decimal128
   * where Go fails) and reads them back exactly ({@code MongoDbWireFormatTest}, the backend
   * contract).
   */
  @Test
  @Disabled(
      "Go's MongoDB backend cannot read []byte or uint64 > 2^63-1 results back; see the Javadoc above")
  @Override
  void bytesAndLargeIntegers() {}
}
