package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Signature;
import java.util.List;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * Java sends, Go works: Redis broker, MongoDB result backend (Go's database, collections and
 * documents).
 */
class RedisMongoDbJavaSendsGoWorksIT extends JavaSendsGoWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.REDIS_MONGODB;
  }

  /**
   * Go's own limit: a Go worker cannot store the uint64 2^64-1 in MongoDB (its BSON encoder fails
   * with "overflows int64", the task never leaves STARTED and Go's consumer stops). The rest of
   * that test is {@link #bytesAndInt64StoredByGoAsBsonReadBackExactly}.
   */
  @Test
  @Disabled("a Go worker cannot store a uint64 above 2^63-1 in MongoDB; see the Javadoc above")
  @Override
  void bytesAndLargeIntegers() {}

  /**
   * Go stores {@code []uint8} as a BSON Binary and int64 as Int64; Java reads both back exactly.
   */
  @Test
  void bytesAndInt64StoredByGoAsBsonReadBackExactly() {
    List<Object> bytes =
        send(Signature.create("echo_bytes", Arg.of(new byte[] {0, 1, 2, (byte) 255})));
    assertThat(bytes).hasSize(1);
    assertThat((byte[]) bytes.get(0)).containsExactly(0, 1, 2, 255);
    assertThat(send(Signature.create("echo_int64", Arg.of(9007199254740993L))))
        .containsExactly(9007199254740993L);
  }
}
