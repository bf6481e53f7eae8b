package io.machinery.examples;

import com.sun.net.httpserver.HttpServer;
import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.micrometer.MachineryMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;
import java.util.stream.LongStream;

/**
 * A worker whose metrics Prometheus scrapes: run it ({@code java ... PrometheusMetrics 9400}), then
 * {@code curl -s localhost:9400/metrics | grep machinery_}. Uses the in-JVM memory broker and
 * backend; in a deployment give the server its Redis or AMQP broker and backend.
 * PrometheusMetricsTest runs it and scrapes it.
 */
public final class PrometheusMetrics {
  private PrometheusMetrics() {}

  public static void main(String[] args) throws Exception {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 9400;
    run(
        port,
        url -> System.out.println("Scrape " + url + " (Ctrl-C stops)"),
        new CountDownLatch(1));
  }

  /**
   * Serves {@code /metrics} on {@code port} (0: any free one) until {@code stop} opens; tells
   * {@code ready} the URL.
   */
  static void run(int port, Consumer<String> ready, CountDownLatch stop) throws Exception {
    // README:metrics:begin
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    MachineryMetrics metrics =
        MachineryMetrics.builder(registry).publishPercentileHistogram(true).build();
    try (Server server =
        Server.builder().listener(metrics).build()) { // plus .broker(..).backend(..) in production
      server.registerTask("add", TaskFunction.varargs(long[].class, a -> LongStream.of(a).sum()));
      Worker worker = server.newWorker("metrics-demo", 4);
      metrics.bindWorker(worker);
      server.broker().inspector().ifPresent(inspector -> metrics.bindQueue(inspector, ""));
      worker.launchAsync();

      HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
      http.createContext(
          "/metrics",
          exchange -> {
            byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
            exchange
                .getResponseHeaders()
                .add("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
              out.write(body);
            }
          });
      http.start();
      // README:metrics:end
      try {
        for (long i = 0; i < 3; i++) {
          server
              .sendTask(Signature.create("add", Arg.of(i), Arg.of(1L)))
              .get(Duration.ofSeconds(10));
        }
        ready.accept("http://127.0.0.1:" + http.getAddress().getPort() + "/metrics");
        stop.await();
      } finally {
        http.stop(0);
      }
    }
  }
}
