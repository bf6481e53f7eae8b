package io.machinery.dashboard;

import io.machinery.Arg;
import io.machinery.Inspection;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.TaskLimit;
import io.machinery.Worker;
import io.machinery.spi.ControlPlane;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;

/**
 * Writes the README's screenshots ({@code make screenshots}): a deployment on the in-JVM memory
 * broker (so no server is needed) with busy workers, waiting, delayed and dead-lettered tasks and
 * periodic entries, and a payment task that failed once before it went through (its workers record
 * task events, so its page shows the history), shown by the dashboard in Debian's headless
 * Chromium, one PNG per page into the directory given as the argument.
 */
public final class DashboardScreenshots {
  private DashboardScreenshots() {}

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "docs/images");
    CountDownLatch release = new CountDownLatch(1);
    List<Worker> workers = new ArrayList<>();
    try (Server server = Server.builder().build()) {
      server.registerTask(
          "resize_image",
          TaskFunction.varargs(
              long[].class,
              n -> {
                Thread.sleep(ThreadLocalRandom.current().nextLong(200, 900));
                return n.length;
              }));
      server.registerTask(
          "transcode_video",
          TaskFunction.varargs(
              String[].class,
              files -> {
                release.await();
                return "done";
              }));
      AtomicInteger charges = new AtomicInteger();
      server.registerTask(
          "charge_card",
          TaskFunction.of(
              String.class,
              order -> {
                if (charges.incrementAndGet() == 1) {
                  throw new IllegalStateException("payment gateway timed out after 10s");
                }
                return "charged " + order;
              }));
      server.registerPeriodicTask(
          "0 3 * * *", "nightly-report", Signature.create("build_report", Arg.of("daily")));
      server.registerPeriodicTask(
          "*/15 * * * *", "refresh-cache", Signature.create("refresh_cache"));
      for (String tag : List.of("images-1", "images-2")) {
        Worker w =
            server
                .workerBuilder(tag)
                .concurrency(4)
                .taskEvents(true)
                .heartbeatInterval(Duration.ofMillis(250))
                .limit("transcode_video", TaskLimit.builder().maxConcurrent(2).build())
                .build();
        w.launchAsync();
        workers.add(w);
      }
      Worker reports =
          server
              .workerBuilder("reports-1")
              .queue("reports")
              .maxUnregisteredRequeues(1)
              .heartbeatInterval(Duration.ofMillis(250))
              .build();
      reports.launchAsync();
      for (int i = 0; i < 3; i++) {
        server.sendTask(
            Signature.builder("render_pdf")
                .routingKey("reports")
                .args(Arg.of("invoice-" + (1040 + i)))
                .build());
      }
      String charged =
          server
              .sendTask(
                  Signature.builder("charge_card").args(Arg.of("order-5001")).retryCount(3).build())
              .taskUuid();
      for (int i = 0; i < 2; i++) {
        server.sendTask(Signature.create("transcode_video", Arg.of("clip-" + i + ".mp4")));
      }
      Signature receipt = Signature.create("log_delivery");
      Signature shown = null;
      for (int i = 0; i < 14; i++) {
        Signature s =
            server
                .sendTask(
                    Signature.builder("send_email")
                        .routingKey("emails")
                        .args(
                            Arg.of("user" + i + "@example.com"),
                            Arg.of("Your order #" + (5000 + i) + " has shipped"))
                        .onSuccess(receipt)
                        .build())
                .signature();
        shown = shown == null ? s : shown;
      }
      for (int i = 0; i < 3; i++) {
        server.sendTask(
            Signature.builder("send_reminder")
                .routingKey("emails")
                .eta(Instant.now().plus(Duration.ofMinutes(10 + 5L * i)))
                .args(Arg.of("user" + i + "@example.com"))
                .build());
      }

      try (Dashboard dashboard =
              Dashboard.builder(server)
                  .port(0)
                  .token("screenshot-token")
                  .sampleInterval(Duration.ofMillis(500))
                  .build()
                  .start();
          Browser browser = Browser.start(1280, 820)) {
        // Half a minute of traffic for the chart: bursts of image work, the reports worker
        // dead-lettering.
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        int round = 0;
        while (System.nanoTime() < end) {
          int burst = 2 + (round % 5) * 3;
          for (int i = 0; i < burst; i++) {
            server.sendTask(Signature.create("resize_image", Arg.of((long) i), Arg.of(640L)));
          }
          if (round % 8 == 3) {
            server.sendTask(
                Signature.builder("render_pdf")
                    .routingKey("reports")
                    .args(Arg.of("late-" + round))
                    .build());
          }
          round++;
          Thread.sleep(1000); // pacing the demo's producer, not waiting for an outcome
        }
        String base = dashboard.uri().toString();
        browser.open(base);
        browser.waitFor(By.id("token")).sendKeys("screenshot-token");
        browser.waitForRefresh();
        browser.screenshot(out.resolve("dashboard-overview.png"));
        browser.open(base + "#/queue/emails/pending");
        browser.screenshot(out.resolve("dashboard-queue.png"));
        browser.open(base + "#/queue/reports/dead");
        browser.screenshot(out.resolve("dashboard-dead-letters.png"));
        browser.open(base + "#/task/" + shown.uuid() + "?queue=emails");
        browser.screenshot(out.resolve("dashboard-task.png"));
        Awaitility.await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> Inspection.of(server).history(charged).size() == 6);
        browser.driver.manage().window().setSize(new Dimension(1280, 940)); // the whole history
        browser.open(base + "#/task/" + charged);
        browser.screenshot(out.resolve("dashboard-task-history.png"));
        browser.driver.manage().window().setSize(new Dimension(1280, 820));
        Inspection.of(server)
            .openBreaker(
                "geocode_address",
                Duration.ofMinutes(20),
                "maps API quota used up",
                "cli:ops@bastion");
        Inspection.of(server)
            .setTaskLimit(
                "charge_card",
                ControlPlane.TaskLimitSetting.rate(5, Duration.ofSeconds(1)).withMaxConcurrent(1));
        Awaitility.await() // every worker takes it up on its next heartbeat
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    server.controlPlane().orElseThrow().workers().stream()
                        .allMatch(w -> w.limits().containsKey("charge_card")));
        browser.open(base + "#/workers");
        browser.screenshot(out.resolve("dashboard-workers.png"));
        browser.open(base + "#/periodic");
        browser.screenshot(out.resolve("dashboard-periodic.png"));
        System.out.println("screenshots written to " + out.toAbsolutePath());
      } finally {
        release.countDown();
        workers.forEach(Worker::quit);
        reports.quit();
      }
    }
  }
}
