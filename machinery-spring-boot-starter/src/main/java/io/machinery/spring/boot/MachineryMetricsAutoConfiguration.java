package io.machinery.spring.boot;

import io.machinery.Server;
import io.machinery.micrometer.MachineryMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * Machinery's Micrometer metrics ({@code machinery-micrometer}'s {@link MachineryMetrics}) in the
 * application's {@link MeterRegistry}, when that module is on the classpath and the application has
 * a registry (Actuator makes one).
 *
 * <p>Design notes. The {@link MachineryMetrics} bean is a {@link io.machinery.TaskListener}, so
 * {@link MachineryAutoConfiguration} registers it on the Server it builds (an application's own
 * Server bean must add it itself). The gauges are bound by a {@link
 * MachineryWorkers.LaunchListener} as each of the starter's workers starts consuming: its slot
 * gauges and, when the broker has an inspector, the depth gauges of the queue it consumes (sampled
 * only when the registry is scraped). Ordered after Boot's registry auto-configurations (named, not
 * linked, so that Boot's metrics module stays optional) for {@code @ConditionalOnBean} to see the
 * registry.
 */
@AutoConfiguration(
    before = MachineryAutoConfiguration.class,
    afterName = {
      "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration",
      "org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration",
      "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration"
    })
@ConditionalOnClass({MachineryMetrics.class, MeterRegistry.class})
@ConditionalOnBean(MeterRegistry.class)
public class MachineryMetricsAutoConfiguration {
  @Bean
  @ConditionalOnMissingBean
  MachineryMetrics machineryMetrics(MeterRegistry registry) {
    return MachineryMetrics.builder(registry).build();
  }

  @Bean
  @ConditionalOnMissingBean(name = "machineryMetricsWorkerBinder")
  MachineryWorkers.LaunchListener machineryMetricsWorkerBinder(
      MachineryMetrics metrics, Server server) {
    return worker -> {
      // after a context stop and start the new worker has the stopped one's tag: binding it takes
      // that one's gauges over
      metrics.bindWorker(worker);
      server
          .broker()
          .inspector()
          .ifPresent(inspector -> metrics.bindQueue(inspector, worker.customQueue()));
    };
  }
}
