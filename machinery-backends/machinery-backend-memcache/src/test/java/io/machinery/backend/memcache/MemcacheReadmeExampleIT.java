package io.machinery.backend.memcache;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/** The README's Memcache example, verbatim, on the test server. */
class MemcacheReadmeExampleIT {

  @Test
  void theReadmeExampleRuns() {
    String servers = TestEndpoints.memcacheAddr();
    List<Object> sum;
    // README:memcache:begin
    // io.machinery:machinery-backend-memcache (spymemcached 2.12.3)
    Config config =
        Config.builder()
            .resultBackend("memcache://" + servers)
            .build(); // memcache://10.0.0.1:11211,10.0.0.2:11211
    try (MemcacheBackend backend = MemcacheBackend.create(config);
        Server server = Server.builder().config(config).backend(backend).build()) {
      server.registerTask("add", TaskFunction.varargs(long[].class, n -> LongStream.of(n).sum()));
      server.newWorker("memcache-worker", 4).launchAsync();
      sum =
          server
              .sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)))
              .get(Duration.ofSeconds(30));
    }
    // README:memcache:end
    assertThat(sum).containsExactly(3L);
  }
}
