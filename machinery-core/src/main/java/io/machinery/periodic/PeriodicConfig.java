package io.machinery.periodic;

import java.time.Duration;
import java.time.ZoneId;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Settings of a server's {@link PeriodicScheduler}; pass them with {@code
 * Server.builder().periodic(PeriodicConfig)}. Immutable; {@link #toBuilder()} copies.
 *
 * <pre>{@code
 * PeriodicConfig config = PeriodicConfig.builder()
 *     .programName("billing-worker")      // the Go binary's name, to share locks with Go schedulers
 *     .zone(ZoneId.of("Europe/Paris"))    // for specs without CRON_TZ=
 *     .missedFirePolicy(MissedFirePolicy.SKIP)
 *     .build();
 * }</pre>
 */
public final class PeriodicConfig {
  /** Go fires an overdue entry once when its scheduler catches up. */
  public static final MissedFirePolicy DEFAULT_MISSED_FIRE_POLICY = MissedFirePolicy.FIRE_ONCE;

  /** How late a run may start before it counts as missed (Quartz's default misfire threshold). */
  public static final Duration DEFAULT_MISSED_FIRE_THRESHOLD = Duration.ofMinutes(1);

  /** The scheduler runs its own thread unless told otherwise. */
  public static final boolean DEFAULT_BACKGROUND_THREAD = true;

  private final String programName;
  private final ZoneId zone;
  private final MissedFirePolicy missedFirePolicy;
  private final Duration missedFireThreshold;
  private final boolean backgroundThread;

  private PeriodicConfig(Builder b) {
    this.programName = b.programName == null ? defaultProgramName() : b.programName;
    this.zone = b.zone == null ? ZoneId.systemDefault() : b.zone;
    this.missedFirePolicy = b.missedFirePolicy;
    this.missedFireThreshold = b.missedFireThreshold;
    this.backgroundThread = b.backgroundThread;
  }

  /**
   * The defaults: {@link #defaultProgramName()}, the JVM's default zone, FIRE_ONCE after a minute,
   * a thread.
   */
  public static PeriodicConfig defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder()
        .programName(programName)
        .zone(zone)
        .missedFirePolicy(missedFirePolicy)
        .missedFireThreshold(missedFireThreshold)
        .backgroundThread(backgroundThread);
  }

  /**
   * The middle part of every lock key, {@code machinery_lock_<programName><name><spec>}: Go uses
   * {@code filepath.Base(os.Args[0])}, its binary's file name. Java and Go schedulers of one
   * deployment take the same locks, and so fire each tick once between them, only when this equals
   * the Go binary's name.
   */
  public String programName() {
    return programName;
  }

  /**
   * The zone of specs without a {@code CRON_TZ=}/{@code TZ=} prefix. Go uses the process's local
   * zone; the default here is the JVM's default zone, read when the config is built. The server
   * clock's zone is not used: the default server clock is UTC, for wire timestamps.
   */
  public ZoneId zone() {
    return zone;
  }

  public MissedFirePolicy missedFirePolicy() {
    return missedFirePolicy;
  }

  /**
   * A run reached more than this after its scheduled time is missed and handled by {@link
   * #missedFirePolicy()}.
   */
  public Duration missedFireThreshold() {
    return missedFireThreshold;
  }

  /**
   * Whether the scheduler starts a thread (at the first registration) that fires entries as they
   * come due. Without it nothing fires until someone calls {@link PeriodicScheduler#runDue()}:
   * tests on a manual clock, or an application that drives scheduling from its own timer.
   */
  public boolean backgroundThread() {
    return backgroundThread;
  }

  /**
   * Go's {@code filepath.Base(os.Args[0])} as well as Java can tell: from the {@code
   * sun.java.command} system property, the jar's file name without {@code .jar} ({@code java -jar
   * /opt/worker.jar} gives "worker") or the main class's simple name ({@code com.example.Worker}
   * gives "Worker"); "java" when the JVM does not say. A heuristic: set {@link Builder#programName}
   * explicitly in production.
   */
  public static String defaultProgramName() {
    String command = System.getProperty("sun.java.command", "").strip();
    if (command.isEmpty()) {
      return "java";
    }
    String first = command.split("\\s+", 2)[0];
    String base = first.substring(Math.max(first.lastIndexOf('/'), first.lastIndexOf('\\')) + 1);
    if (base.endsWith(".jar")) {
      base = base.substring(0, base.length() - ".jar".length());
    } else {
      base = base.substring(base.lastIndexOf('.') + 1);
    }
    return base.isEmpty() ? "java" : base;
  }

  @Override
  public String toString() {
    return "PeriodicConfig{programName="
        + programName
        + ", zone="
        + zone
        + ", missedFirePolicy="
        + missedFirePolicy
        + ", missedFireThreshold="
        + missedFireThreshold
        + ", backgroundThread="
        + backgroundThread
        + "}";
  }

  /** Builds a {@link PeriodicConfig}; not thread-safe. */
  public static final class Builder {
    private @Nullable String programName;
    private @Nullable ZoneId zone;
    private MissedFirePolicy missedFirePolicy = DEFAULT_MISSED_FIRE_POLICY;
    private Duration missedFireThreshold = DEFAULT_MISSED_FIRE_THRESHOLD;
    private boolean backgroundThread = DEFAULT_BACKGROUND_THREAD;

    private Builder() {}

    /**
     * See {@link PeriodicConfig#programName()}; may be empty (the key is then {@code
     * machinery_lock_<name><spec>}).
     */
    public Builder programName(String value) {
      programName = Objects.requireNonNull(value, "programName");
      return this;
    }

    public Builder zone(ZoneId value) {
      zone = Objects.requireNonNull(value, "zone");
      return this;
    }

    public Builder missedFirePolicy(MissedFirePolicy value) {
      missedFirePolicy = Objects.requireNonNull(value, "missedFirePolicy");
      return this;
    }

    public Builder missedFireThreshold(Duration value) {
      if (Objects.requireNonNull(value, "missedFireThreshold").isNegative()) {
        throw new IllegalArgumentException(
            "missedFireThreshold must not be negative, was " + value);
      }
      missedFireThreshold = value;
      return this;
    }

    public Builder backgroundThread(boolean value) {
      backgroundThread = value;
      return this;
    }

    public PeriodicConfig build() {
      return new PeriodicConfig(this);
    }
  }
}
