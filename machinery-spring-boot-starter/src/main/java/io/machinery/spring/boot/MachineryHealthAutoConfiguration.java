package io.machinery.spring.boot;

import io.machinery.Server;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/**
 * The Actuator health indicator {@code machinery} ({@link MachineryHealthIndicator}), when Spring
 * Boot's health module is on the classpath and {@code management.health.machinery.enabled} is not
 * false.
 */
@AutoConfiguration(after = MachineryAutoConfiguration.class)
@ConditionalOnClass(HealthIndicator.class)
@ConditionalOnBean(Server.class)
@ConditionalOnEnabledHealthIndicator("machinery")
public class MachineryHealthAutoConfiguration {

  @Bean
  @ConditionalOnMissingBean(name = "machineryHealthIndicator")
  HealthIndicator machineryHealthIndicator(
      Server server, ObjectProvider<MachineryWorkers> workers) {
    return new MachineryHealthIndicator(server, workers.getIfAvailable());
  }
}
