package io.machinery.dashboard;

import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Debian's headless Chromium driven by Debian's chromedriver through Selenium: both paths are
 * given, so Selenium Manager never downloads a browser or a driver. Without them the test skips on
 * a developer machine and fails with {@code CI=true} ({@link TestEndpoints#requireTool}); {@code
 * scripts/services.d/chromium.sh} installs them. The launch flags are the ones this machine needs:
 * no sandbox as root, no background networking on a closed network, and a fresh profile per
 * session.
 */
final class Browser implements AutoCloseable {
  static final Path CHROMIUM = Path.of(env("CHROMIUM_BIN", "/usr/bin/chromium"));
  static final Path CHROMEDRIVER = Path.of(env("CHROMEDRIVER_BIN", "/usr/bin/chromedriver"));

  /**
   * How long a page may take to show something. Generous: on RabbitMQ a queue's delayed count and a
   * task's look-up list the delay queues through the management API, which takes seconds on the
   * shared server (tens of thousands of queues) and more on a loaded machine.
   */
  static final Duration PATIENCE = Duration.ofSeconds(45);

  final ChromeDriver driver;
  private final Path profile;

  private Browser(ChromeDriver driver, Path profile) {
    this.driver = driver;
    this.profile = profile;
  }

  private static String env(String name, String dflt) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? dflt : value;
  }

  /** Starts a browser, or skips (fails in CI) when Chromium or chromedriver is missing. */
  static Browser start(int width, int height) throws IOException {
    TestEndpoints.requireTool(
        Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "Debian's chromium and chromium-driver are needed at "
            + CHROMIUM
            + " and "
            + CHROMEDRIVER
            + " (scripts/services.sh start chromium installs them)");
    Path profile = Files.createTempDirectory("machinery-dashboard-chromium");
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--user-data-dir=" + profile,
        "--window-size=" + width + "," + height,
        "--hide-scrollbars",
        "--force-device-scale-factor=1");
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER.toFile())
            .usingAnyFreePort()
            .build();
    return new Browser(new ChromeDriver(service, options), profile);
  }

  /**
   * Opens a page and waits for its first refresh. The time is taken before navigating: a page that
   * stops polling (a finished task) may finish its only refresh before {@code get} returns.
   */
  void open(String url) {
    long before = System.currentTimeMillis(); // the browser runs on this machine: same clock
    driver.get(url);
    waitForRefreshAfter(before);
  }

  /**
   * Waits until the page finished a refresh after now (the page stamps {@code
   * body[data-refreshed]}).
   */
  void waitForRefresh() {
    waitForRefreshAfter((Long) js("return Date.now();"));
  }

  private void waitForRefreshAfter(long now) {
    new WebDriverWait(driver, PATIENCE)
        .until(
            d -> {
              Object stamp = js("return document.body.dataset.refreshed || '0';");
              return Long.parseLong(String.valueOf(stamp)) > now;
            });
  }

  Object js(String script, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(script, args);
  }

  WebElement waitFor(By by) {
    return new WebDriverWait(driver, PATIENCE)
        .until(ExpectedConditions.visibilityOfElementLocated(by));
  }

  /**
   * Waits until the element's text is the expected one; live refresh replaces elements, so it looks
   * them up again.
   */
  void waitForText(By by, String expected) {
    new WebDriverWait(driver, PATIENCE)
        .withMessage(() -> "text of " + by + " to be " + expected)
        .until(
            d ->
                d.findElements(by).stream()
                    .anyMatch(
                        e -> {
                          try {
                            return e.getText().trim().equals(expected);
                          } catch (org.openqa.selenium.StaleElementReferenceException stale) {
                            return false;
                          }
                        }));
  }

  List<WebElement> all(By by) {
    return driver.findElements(by);
  }

  /**
   * Clicks a button and accepts the confirmation it asks for. Live refresh may replace the button
   * between the lookup and the click (the click then fails on a stale element, having done
   * nothing), or draw it not yet visible: then it is looked up again.
   */
  String clickAndConfirm(By by) {
    new WebDriverWait(driver, PATIENCE)
        .ignoring(StaleElementReferenceException.class)
        .until(
            d -> {
              WebElement button = ExpectedConditions.visibilityOfElementLocated(by).apply(d);
              if (button == null) {
                return false; // there but not yet visible (a refresh is drawing it): look again
              }
              button.click();
              return true;
            });
    var alert = new WebDriverWait(driver, PATIENCE).until(ExpectedConditions.alertIsPresent());
    String question = alert.getText();
    alert.accept();
    return question;
  }

  void screenshot(Path file) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.write(file, driver.getScreenshotAs(OutputType.BYTES));
  }

  @Override
  public void close() throws IOException {
    try {
      driver.quit();
    } finally {
      try (Stream<Path> files = Files.walk(profile)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
