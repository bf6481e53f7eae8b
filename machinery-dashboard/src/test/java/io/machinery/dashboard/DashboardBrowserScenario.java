package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Inspection;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.TaskLimit;
import io.machinery.Worker;
import io.machinery.config.Redaction;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.Inspector;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;

/**
 * The dashboard in Debian's headless Chromium against a real broker and backend with real workers,
 * one subclass per deployment ({@link DashboardRedisBrowserIT}, {@link DashboardAmqpBrowserIT}):
 * the pages show the numbers the inspector reads, the live refresh follows the queue without a
 * reload, actions (with the token typed into the page and the confirmation accepted) change the
 * queue, and a task whose name and arguments are HTML does not inject anything into the page.
 */
abstract class DashboardBrowserScenario {
  static final String TOKEN = "browser-token-1";

  /** What a subclass builds: the server, and what to close after it. */
  record Deployment(Server server, List<AutoCloseable> parts) {}

  protected final String queue = "dash_" + UUID.randomUUID().toString().substring(0, 8);
  protected Server server;
  protected Inspector inspector;
  protected final CountDownLatch release = new CountDownLatch(1);
  private final List<Worker> workers = new ArrayList<>();
  private Deployment deployment;
  protected Dashboard dashboard;
  protected Browser browser;

  /** Builds the deployment whose default queue (and AMQP binding key) is {@code queue}. */
  abstract Deployment deploy(String queue);

  /** The workers' heartbeat: how soon the control plane shows them and their running tasks. */
  Duration heartbeat() {
    return Duration.ofMillis(200);
  }

  @BeforeEach
  void setUp() throws Exception {
    deployment = deploy(queue);
    server = deployment.server();
    inspector = server.broker().inspector().orElseThrow();
    server.registerTask(
        "block",
        TaskFunction.of(
            () -> {
              release.await();
              return "done";
            }));
    browser = Browser.start(1280, 900);
  }

  @AfterEach
  void tearDown() throws Exception {
    release.countDown();
    workers.forEach(Worker::quit);
    server.controlPlane().orElseThrow().resume(queue);
    inspector.purge(queue);
    inspector.deleteDeadLetters(queue, e -> true);
    if (browser != null) {
      browser.close();
    }
    if (dashboard != null) {
      dashboard.close();
    }
    server.close();
    for (AutoCloseable part : deployment.parts()) {
      part.close();
    }
  }

  String start(Dashboard.Builder builder) {
    dashboard = builder.port(0).sampleInterval(Duration.ofMillis(500)).build().start();
    return dashboard.uri().toString();
  }

  Worker worker(Worker.Builder builder) {
    Worker w = builder.heartbeatInterval(heartbeat()).build();
    workers.add(w);
    w.launchAsync();
    return w;
  }

  static By cell(String queue, int column) {
    return By.cssSelector("tr[data-queue='" + queue + "'] td:nth-child(" + column + ")");
  }

  @Test
  void theOverviewAndTheQueuePageShowTheQueueAndFollowItLive() {
    String page = start(Dashboard.builder(server));
    List<Signature> sent = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      sent.add(server.sendTask(Signature.create("resize", Arg.of((long) i))).signature());
    }
    server.sendTask(
        Signature.builder("later").eta(Instant.now().plus(Duration.ofHours(1))).build());

    browser.open(page);
    browser.waitForText(cell(queue, 2), "3");
    browser.waitForText(cell(queue, 3), "1");
    browser.waitForText(cell(queue, 4), "0");
    assertThat(browser.all(By.cssSelector("[data-action]"))).as("no token: no buttons").isEmpty();
    assertThat(browser.driver.findElement(By.id("mode")).getText()).contains("actions disabled");

    server.sendTask(Signature.create("resize", Arg.of(9L)));
    browser.waitForText(cell(queue, 2), "4"); // no reload: the page polls
    await()
        .atMost(Browser.PATIENCE)
        .until(() -> browser.all(By.cssSelector(".chart polyline.line-pending")).size() == 1);
    assertThat(browser.driver.findElement(By.cssSelector("[data-rates]")).getText())
        .contains("finished/min");

    browser
        .driver
        .findElement(By.cssSelector("tr[data-queue='" + queue + "'] td:nth-child(1) a"))
        .click();
    browser.waitForText(By.cssSelector(".tabs a[data-tab='pending']"), "Pending (4)");
    assertThat(browser.all(By.cssSelector("#rows tbody tr"))).hasSize(4);
    assertThat(browser.all(By.cssSelector("#rows td.task-name")))
        .extracting(WebElement::getText)
        .containsOnly("resize");

    browser.driver.findElement(By.id("search")).sendKeys(sent.get(1).uuid() + "\n");
    browser.waitForText(By.cssSelector("#rows tbody tr td:nth-child(1)"), sent.get(1).uuid());
    assertThat(browser.all(By.cssSelector("#rows tbody tr"))).hasSize(1);

    browser.driver.findElement(By.cssSelector(".tabs a[data-tab='delayed']")).click();
    browser.waitForText(By.cssSelector("#rows td.task-name"), "later");

    browser.driver.findElement(By.cssSelector(".tabs a[data-tab='pending']")).click();
    browser.waitFor(By.cssSelector("#rows tbody tr td:nth-child(1) a")).click();
    browser.waitForText(By.id("task-location"), "PENDING");
    assertThat(browser.driver.findElement(By.id("task-message")).getText())
        .contains("\"Name\": \"resize\"");
  }

  @Test
  void workersShowTheirBusySlotsRunningTasksAndTheTaskLimitsSetAtRunTime() {
    String page = start(Dashboard.builder(server));
    Worker w =
        worker(
            server
                .workerBuilder("dash-worker-" + queue)
                .concurrency(2)
                .limit("block", TaskLimit.maxConcurrent(5)));
    String running = server.sendTask(Signature.create("block")).taskUuid();
    String id =
        await()
            .atMost(Browser.PATIENCE)
            .until(() -> w.controlPlaneId(), java.util.Optional::isPresent)
            .get();

    browser.open(page + "#/workers");
    By row = By.cssSelector("tr[data-worker='" + id + "']");
    browser.waitForText(By.cssSelector("tr[data-worker='" + id + "'] td:nth-child(8)"), "1");
    WebElement r = browser.driver.findElement(row);
    assertThat(r.findElement(By.cssSelector("td:nth-child(1)")).getText())
        .isEqualTo("dash-worker-" + queue);
    assertThat(r.findElement(By.cssSelector("td:nth-child(4)")).getText()).isEqualTo(queue);
    assertThat(r.findElement(By.cssSelector("td:nth-child(5)")).getText())
        .as("the broker it takes tasks from, without credentials")
        .isEqualTo(Redaction.redactUrl(server.config().broker()));
    assertThat(r.findElement(By.cssSelector("td:nth-child(6)")).getText())
        .as("where it stores results, without credentials")
        .isEqualTo(Redaction.redactUrl(server.config().resultBackend()));
    assertThat(r.findElement(By.cssSelector("td:nth-child(7)")).getText()).isEqualTo("2");
    assertThat(r.findElement(By.cssSelector("td:nth-child(12) div[data-limit='block']")).getText())
        .as("the worker's own limit")
        .isEqualTo("own block at most 5 at once");
    r.findElement(By.cssSelector("td:nth-child(13) a")).click();
    browser.waitForText(By.id("task-location"), "RUNNING");
    assertThat(browser.driver.getCurrentUrl()).contains(running);

    browser.open(page + "#/queue/" + queue + "/inflight");
    browser.waitForText(By.cssSelector("#rows tbody tr td:nth-child(1)"), running);

    String limited = queue + "_limited"; // the control plane's limits are global: our own name
    Inspection.of(server).setTaskLimit(limited, ControlPlane.TaskLimitSetting.maxConcurrent(3));
    try {
      browser.open(page + "#/workers");
      browser.waitForText(
          By.cssSelector("#task-limits tr[data-task='" + limited + "'] td:nth-child(2)"),
          "at most 3 at once");
      browser.waitForText(
          By.cssSelector(
              "tr[data-worker='" + id + "'] td:nth-child(12) div[data-limit='" + limited + "']"),
          "set " + limited + " at most 3 at once");
    } finally {
      Inspection.of(server).clearTaskLimit(limited);
    }
  }

  @Test
  void purgePauseAndResumeWithTheTokenChangeTheQueue() {
    String page = start(Dashboard.builder(server).token(TOKEN));
    for (int i = 0; i < 5; i++) {
      server.sendTask(Signature.create("resize", Arg.of((long) i)));
    }
    browser.open(page);
    browser.waitFor(By.id("token")).sendKeys(TOKEN);
    browser.waitForText(cell(queue, 2), "5");

    String question =
        browser.clickAndConfirm(
            By.cssSelector("tr[data-queue='" + queue + "'] button[data-action='purge']"));
    assertThat(question).contains(queue).contains("5 waiting tasks");
    browser.waitForText(cell(queue, 2), "0");
    assertThat(inspector.queue(queue).pending()).isZero();

    browser.clickAndConfirm(
        By.cssSelector("tr[data-queue='" + queue + "'] button[data-action='pause']"));
    browser.waitForText(cell(queue, 6), "paused");
    assertThat(server.controlPlane().orElseThrow().pausedQueues()).contains(queue);
    browser.clickAndConfirm(
        By.cssSelector("tr[data-queue='" + queue + "'] button[data-action='resume']"));
    browser.waitForText(cell(queue, 6), "active");
    assertThat(server.controlPlane().orElseThrow().pausedQueues()).doesNotContain(queue);
  }

  /**
   * The Workers page opens a breaker key on every worker from its form and closes it from its row,
   * with the token typed into the page and each confirmation accepted.
   */
  @Test
  void aBreakerIsOpenedAndClosedOnEveryWorkerFromTheWorkersPage() {
    String page = start(Dashboard.builder(server).token(TOKEN));
    String key = queue + "_charge"; // the control plane's openings are global: our own key
    ControlPlane plane = server.controlPlane().orElseThrow();
    try {
      browser.open(page + "#/workers");
      browser.waitFor(By.id("token")).sendKeys(TOKEN);
      browser.waitFor(By.id("breaker-key")).sendKeys(key);
      browser.driver.findElement(By.id("breaker-for")).sendKeys("10m");
      browser.driver.findElement(By.id("breaker-reason")).sendKeys("PSP maintenance");
      String question =
          browser.clickAndConfirm(By.cssSelector("#breaker-form [data-action='open-breaker']"));
      assertThat(question).contains(key).contains("for 10m");
      By row = By.cssSelector("#breakers tr[data-breaker='" + key + "']");
      browser.waitForText(
          By.cssSelector("#breakers tr[data-breaker='" + key + "'] td:nth-child(5)"),
          "PSP maintenance");
      assertThat(
              browser
                  .driver
                  .findElement(row)
                  .findElement(By.cssSelector("td:nth-child(4)"))
                  .getText())
          .startsWith("dashboard:");
      assertThat(plane.openBreakers().get(key).reason()).isEqualTo("PSP maintenance");
      assertThat(browser.driver.findElement(By.id("breaker-key")).getAttribute("value"))
          .as("the form is cleared once the breaker is open")
          .isEmpty();

      question =
          browser.clickAndConfirm(
              By.cssSelector(
                  "#breakers tr[data-breaker='" + key + "'] button[data-action='close-breaker']"));
      assertThat(question).contains(key);
      await().atMost(Browser.PATIENCE).until(() -> browser.all(row).isEmpty());
      assertThat(plane.openBreakers()).doesNotContainKey(key);
    } finally {
      plane.closeBreaker(key);
    }
  }

  @Test
  void aHostileTaskNameAndArgumentsAreShownAsTextAndRunNoScript() {
    String page = start(Dashboard.builder(server).token(TOKEN));
    String hostile = "<img src=x onerror=\"document.title='pwned';window.pwned=1\">";
    String script = "</pre><script>window.pwned=2</script><b id=injected>bold</b>";
    String uuid = server.sendTask(Signature.create(hostile, Arg.of(script))).taskUuid();

    browser.open(page + "#/queue/" + queue + "/pending");
    browser.waitForText(By.cssSelector("#rows td.task-name"), hostile);
    assertThat(browser.driver.findElement(By.cssSelector("#rows td.args")).getText())
        .contains(script);
    browser.driver.findElement(By.cssSelector("#rows tbody tr td:nth-child(1) a")).click();
    browser.waitForText(By.id("task-name"), hostile);
    assertThat(browser.driver.findElement(By.id("task-message")).getText())
        .contains("window.pwned=2");
    assertThat(browser.driver.getCurrentUrl()).contains(uuid);

    assertThat(browser.all(By.cssSelector("main img, main script, #injected")))
        .as("no element from task data")
        .isEmpty();
    assertThat(
            browser.js(
                "return window.pwned === undefined && document.title === 'Machinery dashboard';"))
        .isEqualTo(true);
  }

  @Test
  void aReadOnlyDashboardShowsNoActions() {
    String page = start(Dashboard.builder(server).token(TOKEN).readOnly(true));
    server.sendTask(Signature.create("resize", Arg.of(1L)));
    browser.open(page);
    browser.waitForText(cell(queue, 2), "1");
    assertThat(browser.driver.findElement(By.id("mode")).getText()).isEqualTo("read-only");
    assertThat(browser.all(By.cssSelector("[data-action]"))).isEmpty();
    assertThat(browser.driver.findElement(By.id("token-box")).isDisplayed()).isFalse();
    browser.open(page + "#/workers");
    browser.waitFor(By.id("breakers"));
    assertThat(browser.all(By.cssSelector("[data-action], #breaker-form")))
        .as("no Close buttons, no form to open a breaker")
        .isEmpty();
  }

  @Test
  void theTaskPageShowsTheHistoryThatWorkersRecord() {
    String page = start(Dashboard.builder(server));
    AtomicInteger runs = new AtomicInteger();
    server.registerTask(
        "flaky",
        TaskFunction.of(
            () -> {
              if (runs.incrementAndGet() == 1) {
                throw new IllegalStateException("<b>disk full</b>");
              }
              return "ok";
            }));
    Worker w = worker(server.workerBuilder("dash-events-" + queue).taskEvents(true));
    String uuid = server.sendTask(Signature.builder("flaky").retryCount(1).build()).taskUuid();

    browser.open(page + "#/task/" + uuid + "?queue=" + queue);
    browser.waitForText(By.id("task-state"), "SUCCESS");
    await()
        .atMost(Browser.PATIENCE)
        .until(
            () ->
                browser.all(By.cssSelector("#task-history tbody tr td:nth-child(2)")).stream()
                    .map(WebElement::getText)
                    .toList(),
            kinds ->
                kinds.equals(
                    List.of("RECEIVED", "STARTED", "RETRY", "RECEIVED", "STARTED", "SUCCESS")));
    WebElement retry =
        browser.driver.findElement(By.cssSelector("#task-history tr[data-kind='RETRY']"));
    assertThat(retry.findElement(By.cssSelector("td:nth-child(3)")).getText()).isEqualTo("1");
    assertThat(retry.findElement(By.cssSelector("td:nth-child(4)")).getText())
        .isEqualTo(w.controlPlaneId().orElseThrow());
    assertThat(retry.findElement(By.cssSelector("td:nth-child(5)")).getText())
        .contains("<b>disk full</b>");
    assertThat(browser.all(By.cssSelector("#task-history b"))).as("the error stays text").isEmpty();
    assertThat(
            browser
                .driver
                .findElement(
                    By.cssSelector("#task-history tr[data-kind='SUCCESS'] td:nth-child(3)"))
                .getText())
        .isEqualTo("2");
  }

  @Test
  void aWaitingTaskIsCancelledFromItsPageWithTheToken() {
    String page = start(Dashboard.builder(server).token(TOKEN));
    String uuid = server.sendTask(Signature.create("resize", Arg.of(1L))).taskUuid();

    browser.open(page + "#/task/" + uuid + "?queue=" + queue);
    browser.waitFor(By.id("token")).sendKeys(TOKEN);
    browser.waitForText(By.id("task-location"), "PENDING");
    String question = browser.clickAndConfirm(By.cssSelector("#cancel[data-action='cancel']"));
    assertThat(question).contains(uuid).contains("workers will skip it");
    browser.waitForText(By.id("task-state"), "FAILURE");
    browser.waitForText(By.id("task-error"), "cancelled");
    assertThat(server.controlPlane().orElseThrow().revoked()).contains(uuid);
    assertThat(server.backend().getState(uuid).orElseThrow().error()).isEqualTo("cancelled");
  }
}
