package io.machinery.spring.boot;

import io.machinery.Server;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.config.Redaction;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.lock.redis.RedisLock;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.Lock;
import java.time.Clock;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;

/**
 * Auto-configuration of Machinery from {@code machinery.*} properties ({@link MachineryProperties}).
 *
 * <p>Design notes.
 * <ul>
 *   <li><b>What it makes</b>, each only when the application has no bean of that type
 *       ({@code @ConditionalOnMissingBean}): the {@link Config}; a {@link Broker}, {@link Backend} and {@link
 *       Lock} chosen by the scheme of {@code broker}, {@code result_backend} and {@code lock} (the broker's URL
 *       when {@code lock} is empty, as in Go) among the modules on the classpath ({@code redis://},
 *       {@code rediss://}, {@code redis+socket://}: the Redis modules; {@code amqp://}, {@code amqps://}: the
 *       AMQP modules; {@code memory://}: core's in-JVM broker and backend, an extension of Go's schemes for
 *       tests); the {@link Server}; the {@link MachineryWorkers}. A URL no module on the classpath serves fails
 *       the start with the module to add.
 *   <li><b>Ownership.</b> Broker, backend and lock are beans, so the context closes them (after the Server,
 *       which depends on them and closes only what it made itself). A bean the application defines is the
 *       application's and is used as it is.
 *   <li><b>Tasks</b> come from {@link MachineryTask} bean methods ({@link MachineryTaskRegistrar}).
 * </ul>
 */
@AutoConfiguration
@EnableConfigurationProperties(MachineryProperties.class)
public class MachineryAutoConfiguration {

  @Bean
  @ConditionalOnMissingBean
  Config machineryConfig(MachineryProperties properties) {
    return properties.toConfig();
  }

  @Bean
  @ConditionalOnMissingBean
  Server machineryServer(Config config, ObjectProvider<Broker> broker, ObjectProvider<Backend> backend,
      ObjectProvider<Lock> lock) {
    Server.Builder builder = Server.builder().config(config)
        .broker(required(broker, "broker", config.broker(), "broker"))
        .backend(required(backend, "result_backend", config.resultBackend(), "backend"));
    lock.ifAvailable(builder::lock);
    return builder.build();
  }

  private static <T> T required(ObjectProvider<T> provider, String key, String url, String kind) {
    T value = provider.getIfAvailable();
    if (value != null) {
      return value;
    }
    String technology = UrlSchemes.technology(url);
    String module = UrlSchemes.MODULES.get(technology);
    throw new IllegalStateException("machinery." + key + " is " + Redaction.redactUrl(url) + " and no " + kind
        + " serves it: " + (module != null
            ? "add " + String.format(module, kind) + " to the application's dependencies"
            : "no module of this starter serves the scheme '" + technology + "'")
        + ", set machinery." + key + " to a URL of a module you have, or define a "
        + (kind.equals("broker") ? "Broker" : "Backend") + " bean");
  }

  @Bean
  static MachineryTaskRegistrar machineryTaskRegistrar(ObjectProvider<Server> server) {
    return new MachineryTaskRegistrar(server);
  }

  @Bean
  @ConditionalOnMissingBean
  @ConditionalOnBooleanProperty(name = "machinery.worker.enabled", matchIfMissing = true)
  MachineryWorkers machineryWorkers(Server server, MachineryProperties properties, MachineryTaskRegistrar tasks) {
    return new MachineryWorkers(server, properties.getWorker(), java.util.List.copyOf(tasks.extraQueues()));
  }

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(RedisBroker.class)
  @Conditional(UrlSchemes.RedisBroker.class)
  static class RedisBrokerConfiguration {
    @Bean
    @ConditionalOnMissingBean(Broker.class)
    RedisBroker machineryBroker(Config config) {
      return RedisBroker.create(config);
    }
  }

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(AmqpBroker.class)
  @Conditional(UrlSchemes.AmqpBroker.class)
  static class AmqpBrokerConfiguration {
    @Bean
    @ConditionalOnMissingBean(Broker.class)
    AmqpBroker machineryBroker(Config config) {
      return AmqpBroker.create(config);
    }
  }

  @Configuration(proxyBeanMethods = false)
  @Conditional(UrlSchemes.MemoryBroker.class)
  static class MemoryBrokerConfiguration {
    @Bean
    @ConditionalOnMissingBean(Broker.class)
    MemoryBroker machineryBroker(Config config) {
      return MemoryBroker.create(config, Clock.systemUTC());
    }
  }

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(RedisBackend.class)
  @Conditional(UrlSchemes.RedisBackend.class)
  static class RedisBackendConfiguration {
    @Bean
    @ConditionalOnMissingBean(Backend.class)
    RedisBackend machineryBackend(Config config) {
      return RedisBackend.create(config);
    }
  }

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(AmqpBackend.class)
  @Conditional(UrlSchemes.AmqpBackend.class)
  static class AmqpBackendConfiguration {
    @Bean
    @ConditionalOnMissingBean(Backend.class)
    AmqpBackend machineryBackend(Config config) {
      return AmqpBackend.create(config);
    }
  }

  @Configuration(proxyBeanMethods = false)
  @Conditional(UrlSchemes.MemoryBackend.class)
  static class MemoryBackendConfiguration {
    @Bean
    @ConditionalOnMissingBean(Backend.class)
    MemoryBackend machineryBackend(Config config) {
      return MemoryBackend.create(config, Clock.systemUTC());
    }
  }

  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(RedisLock.class)
  @Conditional(UrlSchemes.RedisLock.class)
  static class RedisLockConfiguration {
    @Bean
    @ConditionalOnMissingBean(Lock.class)
    RedisLock machineryLock(Config config) {
      return RedisLock.create(config);
    }
  }
}
