package io.machinery.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.MigratingBroker;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.lock.amqp.AmqpLock;
import io.machinery.lock.redis.RedisLock;
import io.machinery.spi.Lock;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** The starter on the real RabbitMQ at AMQP_URL: amqp:// picks the AMQP broker and backend. */
class MachineryStarterAmqpIT {

  @Test
  void amqpUrlsRunTasksOnTheAmqpModules() {
    String url = TestEndpoints.amqpUrl();
    String queue = "spring_it_" + UUID.randomUUID().toString().substring(0, 8);
    new ApplicationContextRunner()
        .withConfiguration(
            AutoConfigurations.of(
                MachineryAutoConfiguration.class, MachineryHealthAutoConfiguration.class))
        .withUserConfiguration(ItTasks.class)
        .withPropertyValues(
            "machinery.broker=" + url,
            "machinery.result_backend=" + url,
            "machinery.default_queue=" + queue,
            "machinery.amqp.binding_key=" + queue,
            "machinery.amqp.queue_declare_args.x-expires=60000")
        .run(
            context -> {
              assertThat(context)
                  .hasNotFailed()
                  .hasSingleBean(AmqpBroker.class)
                  .hasSingleBean(AmqpBackend.class);
              Server server = context.getBean(Server.class);
              assertThat(server.lock())
                  .as("no lock set: the broker's URL, served by the AMQP lock")
                  .isInstanceOf(AmqpLock.class);
              assertThat(
                      server
                          .sendTask(Signature.create("add", Arg.of(20L), Arg.of(22L)))
                          .get(Duration.ofSeconds(20)))
                  .containsExactly(42L);
              assertThat(
                      context
                          .getBean("machineryHealthIndicator", HealthIndicator.class)
                          .health()
                          .getStatus())
                  .isEqualTo(Status.UP);
            });
  }

  /**
   * Moving from Redis to RabbitMQ: the broker bean is a migrating broker from Redis to RabbitMQ
   * that runs a task end to end, and the lock stays where the processes not yet moved take theirs
   * (the old broker's Redis). Where its sends go is the broker migration kit's to check.
   */
  @Test
  void aMoveFromRedisBuildsAMigratingBrokerThatRunsTasksAndKeepsTheLockOnRedis() {
    String url = TestEndpoints.amqpUrl();
    String queue = "spring_it_" + UUID.randomUUID().toString().substring(0, 8);
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(MachineryAutoConfiguration.class))
        .withUserConfiguration(ItTasks.class)
        .withPropertyValues(
            "machinery.broker=" + url,
            "machinery.migrate-from-broker=" + TestEndpoints.redisUrl(),
            "machinery.result_backend=" + TestEndpoints.redisUrl(),
            "machinery.default_queue=" + queue,
            "machinery.amqp.binding_key=" + queue,
            "machinery.amqp.queue_declare_args.x-expires=60000")
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              MigratingBroker broker = context.getBean(MigratingBroker.class);
              assertThat(broker.from()).isInstanceOf(RedisBroker.class);
              assertThat(broker.to()).isInstanceOf(AmqpBroker.class);
              assertThat(context.getBean(Lock.class)).isInstanceOf(RedisLock.class);
              assertThat(
                      context
                          .getBean(Server.class)
                          .sendTask(Signature.create("add", Arg.of(20L), Arg.of(22L)))
                          .get(Duration.ofSeconds(20)))
                  .containsExactly(42L);
            });
  }
}
