package io.machinery.backend.memcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.MachineryException;
import io.machinery.config.Config;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * What a claim does when memcached refuses to store, which a real memcached here does only when its
 * memory is full of items it may not evict ({@code -M}): {@link FakeFullMemcached} answers every
 * store with memcached's own {@code SERVER_ERROR out of memory storing object}.
 */
class MemcacheRefusalTest {
  @Test
  void aClaimThatMemcachedRefusesSaysWhyInsteadOfRetrying() throws Exception {
    try (FakeFullMemcached server = new FakeFullMemcached();
        MemcacheBackend backend =
            MemcacheBackend.builder(
                    Config.builder().resultBackend("memcache://127.0.0.1:" + server.port()).build())
                .build()) {
      assertThatThrownBy(() -> backend.claimUnique("nightly", "task_1", Duration.ofMinutes(1)))
          .isInstanceOf(MachineryException.class)
          .hasMessageContaining("out of memory storing object")
          .hasMessageNotContaining("kept changing hands");
      assertThat(server.adds()).as("one add, not retried").hasValue(1);
    }
  }

  /**
   * A fake memcached (text protocol) whose memory is full: stores answer {@code SERVER_ERROR out of
   * memory storing object}, reads find nothing. One connection at a time, on a daemon thread.
   */
  static final class FakeFullMemcached implements AutoCloseable {
    private final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    private final AtomicInteger adds = new AtomicInteger();

    FakeFullMemcached() throws IOException {
      Thread.ofPlatform().daemon().name("fake-full-memcached").start(this::serve);
    }

    int port() {
      return socket.getLocalPort();
    }

    /** How many {@code add} commands it was sent. */
    AtomicInteger adds() {
      return adds;
    }

    private void serve() {
      while (!socket.isClosed()) {
        try (Socket connection = socket.accept()) {
          BufferedReader in =
              new BufferedReader(
                  new InputStreamReader(connection.getInputStream(), StandardCharsets.UTF_8));
          OutputStream out = connection.getOutputStream();
          for (String line = in.readLine(); line != null; line = in.readLine()) {
            String command = line.split(" ", 2)[0];
            String answer =
                switch (command) {
                  case "add", "set", "cas", "replace", "append", "prepend" -> {
                    if (command.equals("add")) {
                      adds.incrementAndGet();
                    }
                    in.readLine(); // the data block
                    yield "SERVER_ERROR out of memory storing object";
                  }
                  case "get", "gets" -> "END";
                  case "version" -> "VERSION 1.6.0";
                  default -> "ERROR";
                };
            out.write((answer + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
          }
        } catch (IOException e) {
          // closed, or the client went away: take the next connection
        }
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
