package io.machinery.spring.boot;

import io.machinery.QueueBound;
import io.machinery.Server;
import io.machinery.TaskListener;
import io.machinery.config.Config;
import io.machinery.embedded.ManualClock;
import io.machinery.periodic.PeriodicConfig;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.Lock;
import java.time.Clock;
import org.springframework.beans.factory.BeanClassLoaderAware;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.LazyInitializationExcludeFilter;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;

/**
 * Auto-configuration of Machinery from {@code machinery.*} properties ({@link
 * MachineryProperties}).
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>What it makes</b>, each only when the application has no bean of that type
 *       ({@code @ConditionalOnMissingBean}): the {@link Config}; a {@link Broker}, {@link Backend}
 *       and {@link Lock} chosen by the scheme of the Config's {@code broker}, {@code
 *       result_backend} and {@code lock} (the broker's URL when {@code lock} is empty, as in Go)
 *       among the modules on the classpath ({@code redis://}, {@code rediss://}, {@code
 *       redis+socket://}: the Redis modules; {@code amqp://}, {@code amqps://}: the AMQP modules;
 *       {@code memory://}: core's in-JVM broker and backend, an extension of Go's schemes for
 *       tests), see {@link UrlSchemes}; the {@link Server}; the {@link MachineryWorkers}, each
 *       worker adjusted by the application's {@link MachineryWorkerCustomizer} beans. A URL no
 *       module on the classpath serves fails the start with the module to add.
 *   <li><b>Ownership.</b> Broker, backend and lock are beans, so the context closes them (after the
 *       Server, which depends on them and closes only what it made itself). A bean the application
 *       defines is the application's and is used as it is.
 *   <li><b>Tasks</b> come from {@link MachineryTask} bean methods ({@link MachineryTaskRegistrar}).
 *   <li><b>Listeners.</b> Every {@link TaskListener} bean is registered on the auto-configured
 *       Server, in {@code @Order}; {@link MachineryMetricsAutoConfiguration} adds Micrometer's that
 *       way.
 *   <li><b>Tests in virtual time.</b> A {@link ManualClock} bean (a test's) becomes the clock of
 *       the Server and of the memory broker and backend made here, so a test can drive them with
 *       {@link io.machinery.embedded.VirtualTime}; a {@link PeriodicConfig} bean sets the periodic
 *       scheduler (virtual time needs its {@code backgroundThread(false)}). Only a {@code
 *       ManualClock}: an application's own {@code java.time.Clock} bean is left alone.
 * </ul>
 */
@AutoConfiguration
@EnableConfigurationProperties(MachineryProperties.class)
public class MachineryAutoConfiguration implements BeanClassLoaderAware {
  private ClassLoader classLoader = MachineryAutoConfiguration.class.getClassLoader();

  @Override
  public void setBeanClassLoader(ClassLoader value) {
    classLoader = value;
  }

  @Bean
  @ConditionalOnMissingBean
  Config machineryConfig(MachineryProperties properties) {
    return properties.toConfig();
  }

  @Bean
  @ConditionalOnMissingBean
  Broker machineryBroker(
      Config config, MachineryProperties properties, ObjectProvider<ManualClock> clock) {
    return new UrlSchemes(classLoader)
        .broker(
            config,
            clockOf(clock),
            properties.getRedis().isPriorities(),
            properties.getRedis().isFairness());
  }

  @Bean
  @ConditionalOnMissingBean
  Backend machineryBackend(Config config, ObjectProvider<ManualClock> clock) {
    return new UrlSchemes(classLoader).backend(config, clockOf(clock));
  }

  /** A test's manual clock, else the system's. */
  private static Clock clockOf(ObjectProvider<ManualClock> clock) {
    ManualClock manual = clock.getIfUnique();
    return manual != null ? manual : Clock.systemUTC();
  }

  @Bean
  @ConditionalOnMissingBean
  Lock machineryLock(Config config) {
    return new UrlSchemes(classLoader).lock(config);
  }

  @Bean
  @ConditionalOnMissingBean
  Server machineryServer(
      Config config,
      Broker broker,
      Backend backend,
      Lock lock,
      MachineryProperties properties,
      ObjectProvider<TaskListener> listeners,
      ObjectProvider<QueueBound> bounds,
      ObjectProvider<ManualClock> clock,
      ObjectProvider<PeriodicConfig> periodic) {
    Server.Builder builder =
        Server.builder().config(config).broker(broker).backend(backend).lock(lock);
    builder.clock(clockOf(clock));
    periodic.ifUnique(builder::periodic);
    listeners.orderedStream().forEach(builder::listener);
    properties.toBounds().forEach(builder::bound);
    bounds.orderedStream().forEach(builder::bound);
    return builder.build();
  }

  @Bean
  static MachineryTaskRegistrar machineryTaskRegistrar(ObjectProvider<Server> server) {
    return new MachineryTaskRegistrar(server);
  }

  /**
   * With {@code spring.main.lazy-initialization=true}, a bean with {@link MachineryTask} methods is
   * still made at startup: nothing asks for it otherwise, so its tasks would never be registered
   * nor its queues consumed.
   */
  @Bean
  static LazyInitializationExcludeFilter machineryTaskBeansAreEager() {
    return (beanName, definition, type) -> type != null && MachineryTaskRegistrar.hasTasks(type);
  }

  @Bean
  @ConditionalOnMissingBean
  @ConditionalOnBooleanProperty(name = "machinery.worker.enabled", matchIfMissing = true)
  MachineryWorkers machineryWorkers(
      Server server,
      MachineryProperties properties,
      MachineryTaskRegistrar tasks,
      ObjectProvider<MachineryWorkers.LaunchListener> launchListeners,
      ObjectProvider<MachineryWorkerCustomizer> customizers) {
    MachineryWorkers workers =
        new MachineryWorkers(
            server,
            properties.getWorker(),
            tasks::extraQueues,
            launchListeners.orderedStream().toList(),
            customizers.orderedStream().toList());
    tasks.followLateQueues(workers::follow); // a @Lazy task bean's queue, when it is made
    return workers;
  }
}
