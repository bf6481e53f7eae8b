package io.machinery.spring.boot;

import io.machinery.dashboard.Dashboard;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code machinery.dashboard.*}: the embedded dashboard ({@code machinery-dashboard}), off unless
 * {@code machinery.dashboard.enabled=true}. Its defaults are the dashboard's own: loopback only,
 * and no token means no actions.
 */
@ConfigurationProperties(prefix = "machinery.dashboard")
public class MachineryDashboardProperties {
  /** Whether to start the dashboard. */
  private boolean enabled;

  /** The port to listen on; 0 picks a free one. */
  private int port = Dashboard.DEFAULT_PORT;

  /**
   * The address to listen on; anything but loopback exposes task data to the network, so there
   * reads need the token too (see openReads), and without a token the context fails to start.
   */
  private String bindAddress = Dashboard.DEFAULT_BIND_ADDRESS;

  /**
   * The token actions must carry in the X-Machinery-Token header (8 characters or more), and reads
   * too when bound beyond loopback; none disables actions.
   */
  private @Nullable String token;

  /** Refuses every action and hides the buttons. */
  private boolean readOnly;

  /**
   * Bound beyond loopback, serves reads without the token: for a proxy in front that authenticates
   * every request.
   */
  private boolean openReads;

  /**
   * How long a read waits for the broker and the result backend before the page says they are slow
   * or down (1 ms to 1 h).
   */
  private Duration readTimeout = Dashboard.DEFAULT_READ_TIMEOUT;

  /**
   * Reads that may wait for the broker at once (1 to 10,000); beyond that one is refused at once.
   */
  private int maxConcurrentReads = Dashboard.DEFAULT_MAX_CONCURRENT_READS;

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean value) {
    enabled = value;
  }

  public int getPort() {
    return port;
  }

  public void setPort(int value) {
    port = value;
  }

  public String getBindAddress() {
    return bindAddress;
  }

  public void setBindAddress(String value) {
    bindAddress = value;
  }

  public @Nullable String getToken() {
    return token;
  }

  public void setToken(@Nullable String value) {
    token = value;
  }

  public boolean isReadOnly() {
    return readOnly;
  }

  public void setReadOnly(boolean value) {
    readOnly = value;
  }

  public boolean isOpenReads() {
    return openReads;
  }

  public void setOpenReads(boolean value) {
    openReads = value;
  }

  public Duration getReadTimeout() {
    return readTimeout;
  }

  public void setReadTimeout(Duration value) {
    readTimeout = value;
  }

  public int getMaxConcurrentReads() {
    return maxConcurrentReads;
  }

  public void setMaxConcurrentReads(int value) {
    maxConcurrentReads = value;
  }
}
