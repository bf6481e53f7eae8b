package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;

/**
 * The browser scenario on a real Redis broker (fairness on) and backend (the control plane is
 * Redis's), and what only needs to be shown once: a wrong token, dead-letter requeue, a large
 * argument cut with a download, the fairness keys tab.
 */
class DashboardRedisBrowserIT extends DashboardBrowserScenario {
  @Override
  Deployment deploy(String queue) {
    String url = TestEndpoints.redisUrl();
    Config config = Config.builder().broker(url).resultBackend(url).defaultQueue(queue).build();
    RedisBroker broker = RedisBroker.builder(config).fairness(true).build();
    RedisBackend backend = RedisBackend.create(config);
    return new Deployment(
        Server.builder().config(config).broker(broker).backend(backend).build(),
        List.of(broker, backend));
  }

  /**
   * Fairness keys with waiting tasks, in turn order, with their counts and weights (the broker has
   * lanes).
   */
  @Test
  void theFairnessKeysTabShowsTheBackloggedKeysInTurnOrder() {
    String page = start(Dashboard.builder(server));
    server.sendTask(Signature.create("resize", Arg.of(0L))); // so the keyed ones go to their lanes
    for (String key : List.of("acme", "globex", "globex")) {
      server.sendTask(Signature.builder("resize").args(Arg.of(1L)).fairnessKey(key).build());
    }
    inspector.setFairnessWeight(queue, "globex", 4);
    browser.open(page + "#/queue/" + queue + "/lanes");
    browser.waitForText(By.cssSelector("#rows tr[data-key='globex'] td:nth-child(2)"), "2");
    browser.waitForText(By.cssSelector("#rows tr[data-key='globex'] td:nth-child(3)"), "4");
    List<WebElement> rows = browser.driver.findElements(By.cssSelector("#rows tbody tr"));
    assertThat(rows).extracting(r -> r.getAttribute("data-key")).containsExactly("acme", "globex");
  }

  @Test
  void aWrongTokenIsRefusedInThePageAndChangesNothing() {
    String page = start(Dashboard.builder(server).token(TOKEN));
    server.sendTask(Signature.create("resize", Arg.of(1L)));
    browser.open(page);
    browser.waitFor(By.id("token")).sendKeys("not-the-token");
    browser.waitForText(cell(queue, 2), "1");
    browser.clickAndConfirm(
        By.cssSelector("tr[data-queue='" + queue + "'] button[data-action='purge']"));
    browser.waitForText(By.id("flash"), "purge failed: missing or wrong token (X-Machinery-Token)");
    assertThat(inspector.queue(queue).pending()).isEqualTo(1);
  }

  @Test
  void deadLettersAreRequeuedFromTheDeadLetterTab() {
    String page = start(Dashboard.builder(server).token(TOKEN));
    Worker w = worker(server.workerBuilder("dash-dl-" + queue).maxUnregisteredRequeues(1));
    String one = server.sendTask(Signature.create("nobody_runs_this")).taskUuid();
    String two = server.sendTask(Signature.create("nobody_runs_this")).taskUuid();
    await().atMost(Browser.PATIENCE).until(() -> inspector.queue(queue).deadLettered() == 2);
    w.quit();

    browser.open(page + "#/queue/" + queue + "/dead");
    browser.waitFor(By.id("token")).sendKeys(TOKEN);
    browser.waitForText(By.cssSelector(".tabs a[data-tab='dead']"), "Dead letters (2)");
    List<String> uuids =
        browser.all(By.cssSelector("#rows tbody tr td:nth-child(2)")).stream()
            .map(WebElement::getText)
            .toList();
    assertThat(uuids).containsExactlyInAnyOrder(one, two);
    browser
        .driver
        .findElement(By.cssSelector("#rows tbody tr:first-child input[type=checkbox]"))
        .click();
    browser.waitFor(By.xpath("//button[text()='Requeue selected' and not(@disabled)]"));
    String question = browser.clickAndConfirm(By.xpath("//button[text()='Requeue selected']"));
    assertThat(question).startsWith("Requeue 1 dead letters");
    browser.waitForText(By.cssSelector(".tabs a[data-tab='pending']"), "Pending (1)");
    browser.waitForText(By.cssSelector(".tabs a[data-tab='dead']"), "Dead letters (1)");
    assertThat(inspector.pending(queue, 0, 10))
        .extracting(Signature::uuid)
        .containsExactly(uuids.get(0));
    // the selection was kept after the action: "Requeue selected" stayed enabled with the id done
    browser.waitFor(By.xpath("//button[text()='Requeue selected' and @disabled]"));
    browser.waitFor(By.xpath("//button[text()='Delete selected' and @disabled]"));
    assertThat(browser.all(By.cssSelector("#rows input[type=checkbox]")))
        .hasSize(1)
        .noneMatch(WebElement::isSelected);
  }

  /**
   * Bound beyond loopback with a token, reads need it: the page shows nothing of the tasks and asks
   * for the token, then reads with it.
   */
  @Test
  void boundBeyondLoopbackThePageAsksForTheTokenBeforeItShowsTheQueues() {
    start(Dashboard.builder(server).bindAddress("0.0.0.0").token(TOKEN));
    server.sendTask(Signature.create("resize", Arg.of(1L)));
    browser.driver.get("http://127.0.0.1:" + dashboard.address().getPort() + "/");
    browser.waitForText(
        By.id("status"),
        "refresh failed: this dashboard needs its token to read: type it in the page"
            + " (X-Machinery-Token)");
    assertThat(browser.all(By.cssSelector("tr[data-queue]"))).isEmpty();
    browser.waitFor(By.id("token")).sendKeys(TOKEN + Keys.ENTER);
    browser.waitForText(cell(queue, 2), "1");
    assertThat(browser.all(By.cssSelector("button[data-action='purge']"))).isNotEmpty();
  }

  /** A DAG root's page shows the DAG: each task, what it depends on, and its state. */
  @Test
  void aDagTasksPageShowsItsDag() {
    String page = start(Dashboard.builder(server));
    io.machinery.Dag dag =
        io.machinery.Dag.builder()
            .task("fetch", Signature.create("fetch"))
            .task("words", Signature.create("words"), "fetch")
            .task("report", Signature.create("report"), "fetch", "words")
            .build();
    server.sendDag(dag); // no worker here: the root waits, the others are not sent yet
    browser.open(page + "#/task/" + dag.task("fetch").uuid() + "?queue=" + queue);
    browser.waitForText(By.cssSelector("tr[data-dag-task='fetch'] td:nth-child(4)"), "PENDING");
    assertThat(
            browser
                .driver
                .findElement(By.cssSelector("tr[data-dag-task='report'] td:nth-child(3)"))
                .getText())
        .isEqualTo("fetch, words");
    assertThat(
            browser
                .driver
                .findElement(By.cssSelector("tr[data-dag-task='report'] td:nth-child(4)"))
                .getText())
        .isEqualTo("not sent yet");
    browser.driver.findElement(By.linkText(dag.task("words").uuid())).click();
    browser.waitForText(By.id("task-location"), "NOT_FOUND");
  }

  @Test
  void aLargeArgumentIsCutWithADownloadAndTheChainLinksToTheNextTask() throws Exception {
    String page = start(Dashboard.builder(server));
    String big = "y".repeat(20_000);
    Signature next = Signature.create("archive");
    String uuid =
        server
            .sendTask(Signature.builder("upload").args(Arg.of(big)).onSuccess(next).build())
            .taskUuid();

    browser.open(page + "#/task/" + uuid + "?queue=" + queue);
    browser.waitForText(By.id("task-location"), "PENDING");
    String shown = browser.driver.findElement(By.id("task-message")).getText();
    assertThat(shown).contains("more characters").hasSizeLessThan(big.length());
    String href = browser.driver.findElement(By.id("download")).getAttribute("href");
    assertThat(href).contains("/api/task/raw?").contains(uuid);
    HttpProbe http = new HttpProbe(dashboard.address().getPort());
    assertThat(
            new String(
                http.get(href.substring(href.indexOf("/api/"))).body(),
                java.nio.charset.StandardCharsets.UTF_8))
        .contains(big);

    browser.driver.findElement(By.linkText("archive " + next.uuid())).click();
    browser.waitForText(By.id("task-location"), "NOT_FOUND");
    assertThat(browser.driver.getCurrentUrl()).contains(next.uuid());
  }

  @Test
  void aRunningTaskIsCancelledFromItsPageAndItsWorkerStopsIt() {
    String page = start(Dashboard.builder(server).token(TOKEN));
    Worker w =
        worker(
            server
                .workerBuilder("dash-cancel-" + queue)
                .cancelGracePeriod(java.time.Duration.ZERO));
    String uuid = server.sendTask(Signature.create("block")).taskUuid();
    await().atMost(Browser.PATIENCE).until(() -> w.runningTasks() == 1);

    browser.open(page + "#/task/" + uuid + "?queue=" + queue);
    browser.waitFor(By.id("token")).sendKeys(TOKEN);
    browser.waitForText(By.id("task-location"), "RUNNING");
    String question = browser.clickAndConfirm(By.cssSelector("#cancel[data-action='cancel']"));
    assertThat(question).contains(uuid).contains("it is interrupted");
    browser.waitForText(By.id("task-state"), "FAILURE");
    browser.waitForText(By.id("task-error"), "cancelled");
    await().atMost(Browser.PATIENCE).until(() -> w.runningTasks() == 0);
    browser.waitForText(By.id("task-location"), "NOT_FOUND");
    assertThat(browser.all(By.id("cancel"))).as("a finished task has no Cancel").isEmpty();
  }
}
