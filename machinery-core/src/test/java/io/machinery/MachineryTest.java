package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import io.machinery.embedded.EagerLock;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.embedded.NullBackend;
import io.machinery.spi.ComponentProvider;
import io.machinery.spi.Lock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MachineryTest {

  /**
   * A fake lock provider for a made-up scheme: records the URLs it was asked for and whether its
   * locks closed.
   */
  static final class RecordingLockProvider implements ComponentProvider {
    final List<String> urls = new ArrayList<>();
    final List<Boolean> closed = new ArrayList<>();

    @Override
    public Kind kind() {
      return Kind.LOCK;
    }

    @Override
    public String module() {
      return "machinery-lock-test";
    }

    @Override
    public Set<String> schemes() {
      return Set.of("test");
    }

    @Override
    public Lock lock(Config config) {
      urls.add(config.lock());
      int index = closed.size();
      closed.add(false);
      return new Lock() {
        @Override
        public boolean tryLock(String key, long expiresAtUnixNanos) {
          return true;
        }

        @Override
        public boolean tryLockWithRetries(String key, long expiresAtUnixNanos) {
          return true;
        }

        @Override
        public void close() {
          closed.set(index, true);
        }
      };
    }
  }

  /**
   * A broker provider for a made-up scheme: hands out memory brokers and keeps them, to see them
   * closed.
   */
  static final class RecordingBrokerProvider implements ComponentProvider {
    final List<MemoryBroker> made = new ArrayList<>();

    @Override
    public Kind kind() {
      return Kind.BROKER;
    }

    @Override
    public String module() {
      return "machinery-broker-test";
    }

    @Override
    public Set<String> schemes() {
      return Set.of("test");
    }

    @Override
    public io.machinery.spi.Broker broker(Config config) {
      MemoryBroker broker = MemoryBroker.create();
      made.add(broker);
      return broker;
    }
  }

  /**
   * A fake backend provider for a made-up scheme: makes memory backends, recording each one's URL
   * and whether it was closed (through a proxy, as a memory backend's close leaves no trace).
   */
  static final class RecordingBackendProvider implements ComponentProvider {
    final List<String> urls = new ArrayList<>();
    final List<io.machinery.spi.Backend> made = new ArrayList<>();
    final List<Boolean> closed = new ArrayList<>();

    @Override
    public Kind kind() {
      return Kind.BACKEND;
    }

    @Override
    public String module() {
      return "machinery-backend-test";
    }

    @Override
    public Set<String> schemes() {
      return Set.of("test");
    }

    @Override
    public io.machinery.spi.Backend backend(Config config) {
      urls.add(config.resultBackend());
      int index = closed.size();
      closed.add(false);
      io.machinery.spi.Backend memory = MemoryBackend.create();
      io.machinery.spi.Backend recorded =
          (io.machinery.spi.Backend)
              java.lang.reflect.Proxy.newProxyInstance(
                  io.machinery.spi.Backend.class.getClassLoader(),
                  new Class<?>[] {io.machinery.spi.Backend.class},
                  (proxy, method, args) -> {
                    if (method.getName().equals("close")) {
                      closed.set(index, true);
                    }
                    try {
                      return method.invoke(memory, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                      throw e.getCause();
                    }
                  });
      made.add(recorded);
      return recorded;
    }
  }

  @Test
  void memoryUrlsBuildTheInJvmPairAndRunATask() {
    Config config = Config.builder().broker("memory://").resultBackend("memory://").build();
    try (Server server = Machinery.connect(config)) {
      assertThat(server.broker()).isInstanceOf(MemoryBroker.class);
      assertThat(server.backend()).isInstanceOf(MemoryBackend.class);
      assertThat(server.lock()).isInstanceOf(EagerLock.class);
      server.registerTask("add", TaskFunction.varargs(long[].class, a -> a[0] + a[1]));
      server.newWorker("machinery-test", 1).launchAsync();
      assertThat(
              server
                  .sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)))
                  .getValue(Duration.ofSeconds(10)))
          .isEqualTo(3L);
    }
  }

  @Test
  void goWordsEagerAndNullAreServedByCore() {
    Config config = Config.builder().broker("eager").resultBackend("null").lock("eager").build();
    try (Server server = Machinery.connect(config)) {
      assertThat(server.backend()).isInstanceOf(NullBackend.class);
    }
  }

  @Test
  void aSchemeWhoseModuleIsMissingNamesTheModuleAndHidesThePassword() {
    Config config =
        Config.builder()
            .broker("redis://:s3cret@redis.example:6379/0")
            .resultBackend("memory://")
            .build();
    assertThatThrownBy(() -> Machinery.connect(Server.builder().config(config), List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("io.machinery:machinery-broker-redis")
        .hasMessageContaining("pass RedisBroker.provider() to Machinery.connect")
        .hasMessageContaining("redis://redis.example:6379")
        .hasMessageNotContaining("s3cret");
    Config backend =
        Config.builder().broker("memory://").resultBackend("mongodb://u:pw@mongo:27017").build();
    assertThatThrownBy(() -> Machinery.connect(Server.builder().config(backend), List.of()))
        .hasMessageContaining("RESULT_BACKEND")
        .hasMessageContaining("io.machinery:machinery-backend-mongodb")
        .hasMessageContaining("MongoDbBackend.provider()")
        .hasMessageNotContaining("pw@");
  }

  @Test
  void anUnknownSchemeListsTheFormsThatWork() {
    Config config =
        Config.builder().broker("kafka://broker:9092").resultBackend("memory://").build();
    assertThatThrownBy(() -> Machinery.connect(config))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("the scheme 'kafka'")
        .hasMessageContaining("amqp://");
  }

  @Test
  void theLockFollowsTheBrokerUrlWhenEmptyAndIsClosedWithTheServer() {
    RecordingLockProvider provider = new RecordingLockProvider();
    Config config =
        Config.builder()
            .broker("memory://")
            .resultBackend("memory://")
            .lock("test://locks:1")
            .build();
    Server server = Machinery.connect(Server.builder().config(config), List.of(provider));
    assertThat(provider.urls).containsExactly("test://locks:1");
    assertThat(provider.closed).containsExactly(false);
    server.close();
    assertThat(provider.closed).containsExactly(true);

    // Go's rule: no lock URL means the broker's; a broker URL no lock serves means the in-process
    // lock.
    try (Server eager =
        Machinery.connect(
            Server.builder().config(config.toBuilder().lock("").build()), List.of(provider))) {
      assertThat(eager.lock()).isInstanceOf(EagerLock.class);
    }
  }

  @Test
  void whatTheCallerSetStaysTheCallers() {
    RecordingLockProvider provider = new RecordingLockProvider();
    Config config =
        Config.builder().broker("memory://").resultBackend("memory://").lock("test://x").build();
    try (MemoryBroker broker = MemoryBroker.create()) {
      Server server =
          Machinery.connect(Server.builder().config(config).broker(broker), List.of(provider));
      assertThat(server.broker()).isSameAs(broker);
      server.close();
      assertThat(provider.closed).containsExactly(true);
      broker.publish(
          Signature.create("still-open"),
          new byte[] {'{', '}'}); // the caller's broker was not closed
    }
  }

  @Test
  void aFailureClosesWhatWasAlreadyMade() {
    RecordingBrokerProvider brokers = new RecordingBrokerProvider();
    RecordingLockProvider locks = new RecordingLockProvider();
    Config config =
        Config.builder()
            .broker("test://b")
            .resultBackend("cassandra://db")
            .lock("test://x")
            .build();
    assertThatThrownBy(
            () -> Machinery.connect(Server.builder().config(config), List.of(brokers, locks)))
        .hasMessageContaining("'cassandra'");
    assertThat(brokers.made).hasSize(1);
    assertThatThrownBy(() -> brokers.made.get(0).publish(Signature.create("late"), new byte[0]))
        .hasMessageContaining("closed");
    assertThat(locks.urls).isEmpty(); // the backend failed before the lock was made
  }

  @Test
  void aMigrationBuildsAMigratingBrokerFromTheOldUrlToTheNewAndTakesTheLockFromTheOld() {
    RecordingBrokerProvider brokers = new RecordingBrokerProvider();
    RecordingLockProvider locks = new RecordingLockProvider();
    Config config =
        Config.builder()
            .broker("memory://")
            .migrateFromBroker("test://old")
            .resultBackend("memory://")
            .build();
    Server server = Machinery.connect(Server.builder().config(config), List.of(brokers, locks));
    assertThat(server.broker()).isInstanceOf(MigratingBroker.class);
    MigratingBroker migrating = (MigratingBroker) server.broker();
    assertThat(migrating.from()).isSameAs(brokers.made.get(0));
    assertThat(migrating.to()).isInstanceOf(MemoryBroker.class);
    assertThat(locks.urls)
        .as("an implicit lock follows the old broker, as the processes not yet moved do")
        .containsExactly("test://old");
    server.close();
    assertThatThrownBy(() -> brokers.made.get(0).publish(Signature.create("late"), new byte[0]))
        .as("the server closed both brokers it made")
        .hasMessageContaining("closed");
  }

  @Test
  void aMigrationToItselfOrFromAnUnservedUrlIsRefusedAndClosesTheNewBroker() {
    RecordingBrokerProvider brokers = new RecordingBrokerProvider();
    Config itself =
        Config.builder()
            .broker("test://same")
            .migrateFromBroker(" test://same")
            .resultBackend("memory://")
            .build();
    assertThatThrownBy(() -> Machinery.connect(Server.builder().config(itself), List.of(brokers)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("MACHINERY_MIGRATE_FROM_BROKER names BROKER itself");

    Config unserved =
        Config.builder()
            .broker("test://new")
            .migrateFromBroker("redis://:s3cret@old.example:6379")
            .resultBackend("memory://")
            .build();
    assertThatThrownBy(() -> Machinery.connect(Server.builder().config(unserved), List.of(brokers)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("MACHINERY_MIGRATE_FROM_BROKER")
        .hasMessageContaining("machinery-broker-redis")
        .hasMessageNotContaining("s3cret");
    assertThat(brokers.made).hasSize(1);
    assertThatThrownBy(() -> brokers.made.get(0).publish(Signature.create("late"), new byte[0]))
        .hasMessageContaining("closed");
  }

  @Test
  void aResultBackendMigrationBuildsAMigratingBackendThatTheServerCloses() {
    RecordingBackendProvider backends = new RecordingBackendProvider();
    Config config =
        Config.builder()
            .broker("memory://")
            .resultBackend("test://new")
            .migrateFromResultBackend("test://old")
            .build();
    Server server = Machinery.connect(Server.builder().config(config), List.of(backends));
    assertThat(server.backend()).isInstanceOf(MigratingBackend.class);
    MigratingBackend migrating = (MigratingBackend) server.backend();
    assertThat(backends.urls).containsExactly("test://new", "test://old");
    assertThat(migrating.to()).isSameAs(backends.made.get(0));
    assertThat(migrating.from()).isSameAs(backends.made.get(1));
    server.close();
    assertThat(backends.closed).as("the server closed both backends it made").containsOnly(true);
  }

  @Test
  void aResultBackendMigrationToItselfOrFromAnUnservedUrlIsRefusedAndClosesTheNewBackend() {
    RecordingBackendProvider backends = new RecordingBackendProvider();
    Config itself =
        Config.builder()
            .broker("memory://")
            .resultBackend("test://same")
            .migrateFromResultBackend("test://same ")
            .build();
    assertThatThrownBy(() -> Machinery.connect(Server.builder().config(itself), List.of(backends)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("MACHINERY_MIGRATE_FROM_RESULT_BACKEND names RESULT_BACKEND itself");
    assertThat(backends.made).isEmpty();

    Config unserved =
        Config.builder()
            .broker("memory://")
            .resultBackend("test://new")
            .migrateFromResultBackend("mongodb://admin:s3cret@old.example:27017")
            .build();
    assertThatThrownBy(
            () -> Machinery.connect(Server.builder().config(unserved), List.of(backends)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("MACHINERY_MIGRATE_FROM_RESULT_BACKEND")
        .hasMessageContaining("machinery-backend-mongodb")
        .hasMessageNotContaining("s3cret");
    assertThat(backends.closed).as("the new backend, made first, was closed").containsExactly(true);
  }

  @Test
  void schemesCompareInLowerCaseAndBareWordsAreTheirOwnScheme() {
    assertThat(ComponentProvider.scheme(" REDIS://h:1")).isEqualTo("redis");
    assertThat(ComponentProvider.scheme("eager")).isEqualTo("eager");
  }
}
