package io.machinery.broker.amqp;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Direct access to the test RabbitMQ, beside the code under test: raw publishes, reads, the
 * management API.
 */
final class RabbitAdmin implements AutoCloseable {
  private final Connection connection;

  private RabbitAdmin(Connection connection) {
    this.connection = connection;
  }

  static RabbitAdmin connect() throws Exception {
    AmqpUrl url = AmqpUrl.parse(TestEndpoints.amqpUrl());
    ConnectionFactory f = url.connectionFactory();
    return new RabbitAdmin(f.newConnection("machinery-test-admin"));
  }

  interface Work<T> {
    T run(Channel channel) throws IOException;
  }

  <T> T with(Work<T> work) throws Exception {
    try (Channel channel = connection.createChannel()) {
      return work.run(channel);
    }
  }

  /** Ready messages in a queue, or -1 when it does not exist. */
  int messageCount(String queue) throws Exception {
    Channel channel = connection.createChannel();
    try {
      return channel.queueDeclarePassive(queue).getMessageCount();
    } catch (IOException e) {
      return -1;
    } finally {
      if (channel.isOpen()) {
        channel.close();
      }
    }
  }

  boolean exists(String queue) throws Exception {
    return messageCount(queue) >= 0;
  }

  @Nullable GetResponse get(String queue) throws Exception {
    return with(ch -> ch.basicGet(queue, true));
  }

  void deleteQueues(String... queues) throws Exception {
    for (String queue : queues) {
      with(ch -> ch.queueDelete(queue));
    }
  }

  /**
   * Restarts RabbitMQ (through scripts/services.sh) when its management API answers 5xx for 10 s.
   */
  static void ensureManagementServing() throws Exception {
    if (managementServing(java.time.Duration.ofSeconds(10))) {
      return;
    }
    Process restart =
        new ProcessBuilder(TestEndpoints.servicesScript(), "restart", "rabbitmq")
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    if (!restart.waitFor(120, java.util.concurrent.TimeUnit.SECONDS) || restart.exitValue() != 0) {
      restart.destroyForcibly();
      throw new IOException("restarting RabbitMQ to heal its management API failed");
    }
    if (!managementServing(java.time.Duration.ofSeconds(30))) {
      throw new IOException("RabbitMQ's management API still answers 5xx after a restart");
    }
  }

  private static boolean managementServing(java.time.Duration within) throws Exception {
    String base = TestEndpoints.rabbitManagementUrl();
    long deadline = System.nanoTime() + within.toNanos();
    try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
      do {
        boolean ok = true;
        for (String path : new String[] {"overview", "queues", "exchanges"}) {
          HttpRequest request =
              HttpRequest.newBuilder(URI.create(base + "/api/" + path))
                  .header(
                      "Authorization",
                      "Basic "
                          + Base64.getEncoder()
                              .encodeToString("guest:guest".getBytes(StandardCharsets.UTF_8)))
                  .GET()
                  .build();
          try {
            ok &= http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
          } catch (IOException e) {
            ok = false;
          }
        }
        if (ok) {
          return true;
        }
        org.awaitility.Awaitility.await()
            .pollDelay(java.time.Duration.ofMillis(500))
            .until(() -> true);
      } while (System.nanoTime() < deadline);
    }
    return false;
  }

  /** GET on the management API, e.g. {@code queues/%2F/<name>}; the JSON text. */
  static String management(String path) throws Exception {
    String base = TestEndpoints.rabbitManagementUrl();
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(base + "/api/" + path))
            .header(
                "Authorization",
                "Basic "
                    + Base64.getEncoder()
                        .encodeToString("guest:guest".getBytes(StandardCharsets.UTF_8)))
            .GET()
            .build();
    // HTTP/1.1: the JDK client's h2c upgrade is sometimes reset by the management plugin
    // (RST_STREAM).
    // After a broker restart the management plugin answers 500 for a while (its stats database is
    // rebuilt).
    try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
      HttpResponse<String>[] last = new HttpResponse[1];
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(60))
          .pollInterval(java.time.Duration.ofMillis(250))
          .ignoreExceptionsInstanceOf(IOException.class)
          .until(
              () ->
                  (last[0] = http.send(request, HttpResponse.BodyHandlers.ofString())).statusCode()
                      < 500);
      HttpResponse<String> response = last[0];
      if (response.statusCode() != 200) {
        throw new IOException(
            "management API " + path + ": HTTP " + response.statusCode() + " " + response.body());
      }
      return response.body();
    }
  }

  /** The management API's view of a queue in the default vhost. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> queueInfo(String queue) throws Exception {
    String json =
        management(
            "queues/%2F/" + URLEncoder.encode(queue, StandardCharsets.UTF_8).replace("+", "%20"));
    return new com.fasterxml.jackson.databind.ObjectMapper().readValue(json, Map.class);
  }

  /**
   * Deletes the delay and requeue queues whose messages would go to {@code queue} (found by their
   * arguments).
   */
  static void deleteDelayQueuesOf(String queue) throws Exception {
    com.fasterxml.jackson.databind.JsonNode queues =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(management("queues/%2F?columns=name,arguments"));
    try (RabbitAdmin admin = connect()) {
      for (com.fasterxml.jackson.databind.JsonNode q : queues) {
        if (q.path("name").asText().startsWith("delay.")
            && queue.equals(q.path("arguments").path("x-dead-letter-routing-key").asText())) {
          admin.deleteQueues(q.path("name").asText());
        }
      }
    }
  }

  private static final java.util.List<String> TRACKED =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  /**
   * Remembers a test's queue (and its custom and dead-letter queues) for {@link #deleteTracked()}.
   */
  static void track(String queue) {
    TRACKED.add(queue);
  }

  /**
   * Deletes the tracked queues; called from {@code @AfterAll}, when no worker consumes them any
   * more.
   */
  static void deleteTracked() throws Exception {
    try (RabbitAdmin admin = connect()) {
      for (String queue : TRACKED) {
        admin.deleteQueues(queue, queue + "_custom", queue + Topology.DEAD_LETTER_SUFFIX);
      }
    }
    TRACKED.clear();
  }

  @Override
  public void close() throws IOException {
    connection.close();
  }
}
