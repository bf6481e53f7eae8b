package io.machinery.benchmarks.gcppubsub;

import static io.machinery.benchmarks.BareComparison.env;
import static io.machinery.benchmarks.Drivers.percentile;
import static io.machinery.benchmarks.Drivers.runConcurrently;
import static io.machinery.benchmarks.Drivers.seconds;

import com.google.api.gax.core.NoCredentialsProvider;
import com.google.api.gax.grpc.GrpcTransportChannel;
import com.google.api.gax.rpc.FixedTransportChannelProvider;
import com.google.cloud.pubsub.v1.stub.GrpcPublisherStub;
import com.google.cloud.pubsub.v1.stub.GrpcSubscriberStub;
import com.google.cloud.pubsub.v1.stub.PublisherStub;
import com.google.cloud.pubsub.v1.stub.PublisherStubSettings;
import com.google.cloud.pubsub.v1.stub.SubscriberStub;
import com.google.cloud.pubsub.v1.stub.SubscriberStubSettings;
import com.google.protobuf.ByteString;
import com.google.pubsub.v1.AcknowledgeRequest;
import com.google.pubsub.v1.PublishRequest;
import com.google.pubsub.v1.PubsubMessage;
import com.google.pubsub.v1.PullRequest;
import com.google.pubsub.v1.ReceivedMessage;
import com.google.pubsub.v1.Subscription;
import com.google.pubsub.v1.Topic;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.benchmarks.BareComparison;
import io.machinery.benchmarks.BareComparison.Result;
import io.machinery.benchmarks.Drivers;
import io.machinery.broker.gcppubsub.GcpPubSubBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.wire.WireCodec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * No-op tasks through the GCP Pub/Sub broker against a bare client loop on the same server, in one
 * run.
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.gcppubsub.GcpPubSubBenchmark \
 *     [--tasks 20000] [--concurrency 1,10,100] [--emulator 127.0.0.1:8085] [--redis-url redis://127.0.0.1:6379] \
 *     [--backends null,memory,redis]
 * </pre>
 *
 * <p>For each concurrency N, three phases per setup, each on a fresh topic and subscription:
 *
 * <ul>
 *   <li><b>enqueue</b>: N threads send the tasks; a send returns once Pub/Sub accepted the message.
 *       Machinery: {@code Server.sendTask} (PENDING stored, JSON encoded, one Publish call). Bare:
 *       N threads, one Publish call per message with the same JSON bytes, on the generated stub.
 *   <li><b>drain</b>: the subscription full, a worker of concurrency N runs them. Machinery: a
 *       {@code Worker} (RECEIVED, STARTED, call, SUCCESS stored, ack). Bare: one thread pulls up to
 *       1,000 messages at a time, N threads take them and queue their ack IDs, one thread
 *       acknowledges in batches: a ceiling, with none of the bounds Machinery keeps (it may hold
 *       1,000 messages whatever N is).
 *   <li><b>latency</b>: a tenth of the tasks sent by N threads while the worker runs;
 *       send-to-finish time.
 * </ul>
 *
 * <p>{@code PUBSUB_EMULATOR_HOST} and {@code REDIS_URL} are the defaults for the endpoints.
 *
 * <p>Size: a benchmark program (scenarios, baselines side by side, the printed table), not library
 * code.
 */
public final class GcpPubSubBenchmark {
  private static final String PROJECT = "machinery-bench";

  private GcpPubSubBenchmark() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> options =
        BareComparison.options(
            args,
            "GcpPubSubBenchmark [--tasks N] [--concurrency 1,10,100] [--emulator HOST:PORT] [--redis-url URL] [--backends null,memory,redis]");
    int tasks = Integer.parseInt(options.getOrDefault("tasks", "20000"));
    int[] concurrencies = BareComparison.concurrencies(options);
    String emulator =
        options.getOrDefault("emulator", env("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"));
    String redisUrl = options.getOrDefault("redis-url", env("REDIS_URL", ""));
    List<String> backends = BareComparison.backends(options, redisUrl);
    System.out.printf(
        Locale.ROOT,
        "Pub/Sub benchmark: %d no-op tasks, concurrency %s, emulator %s, backends %s, %d CPUs,"
            + " Java %s%n",
        tasks,
        Arrays.toString(concurrencies),
        emulator,
        backends,
        Runtime.getRuntime().availableProcessors(),
        Runtime.version());
    ManagedChannel channel = ManagedChannelBuilder.forTarget(emulator).usePlaintext().build();
    var channels = FixedTransportChannelProvider.create(GrpcTransportChannel.create(channel));
    List<Result> results = new ArrayList<>();
    try (PublisherStub publisher =
            GrpcPublisherStub.create(
                PublisherStubSettings.newBuilder()
                    .setTransportChannelProvider(channels)
                    .setCredentialsProvider(NoCredentialsProvider.create())
                    .build());
        SubscriberStub subscriber =
            GrpcSubscriberStub.create(
                SubscriberStubSettings.newBuilder()
                    .setTransportChannelProvider(channels)
                    .setCredentialsProvider(NoCredentialsProvider.create())
                    .build())) {
      for (int concurrency : concurrencies) {
        Result bare = bare(publisher, subscriber, tasks, concurrency);
        results.add(bare);
        BareComparison.printLine(bare, bare);
        for (String backend : backends) {
          String queue = "bench_" + UUID.randomUUID().toString().substring(0, 8);
          Config config =
              Config.builder()
                  .broker("gcppubsub://" + PROJECT + "/" + queue)
                  .defaultQueue(queue)
                  .resultBackend(backend.equals("redis") ? redisUrl : "")
                  .build();
          Result ours =
              machinery(
                  "machinery gcppubsub + " + backend,
                  config,
                  emulator,
                  BareComparison.backend(backend, config),
                  tasks,
                  concurrency);
          results.add(ours);
          BareComparison.printLine(ours, bare);
        }
      }
    } finally {
      channel.shutdownNow();
    }
    BareComparison.printTable(results);
  }

  // ------------------------------------------------------------------------------------------
  // Machinery

  private static Result machinery(
      String setup,
      Config config,
      String emulator,
      Supplier<Backend> backends,
      int tasks,
      int concurrency)
      throws Exception {
    try (GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config).emulatorHost(emulator).createMissing(true).build();
        Backend backend = backends.get();
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      return BareComparison.measure(setup, server, tasks, concurrency, 1_000);
    }
  }

  // ------------------------------------------------------------------------------------------ bare
  // client

  private static Result bare(
      PublisherStub publisher, SubscriberStub subscriber, int tasks, int concurrency)
      throws Exception {
    String name = "bench_bare_" + UUID.randomUUID().toString().substring(0, 8);
    String topic = "projects/" + PROJECT + "/topics/" + name;
    String subscription = "projects/" + PROJECT + "/subscriptions/" + name;
    publisher.createTopicCallable().call(Topic.newBuilder().setName(topic).build());
    subscriber
        .createSubscriptionCallable()
        .call(
            Subscription.newBuilder()
                .setName(subscription)
                .setTopic(topic)
                .setAckDeadlineSeconds(60)
                .build());
    ByteString body =
        ByteString.copyFrom(
            WireCodec.encode(
                Signature.builder("noop")
                    .uuid("task_" + UUID.randomUUID())
                    .routingKey(name)
                    .headers(Map.of())
                    .build()));
    Drivers.Step publish =
        i ->
            publisher
                .publishCallable()
                .call(
                    PublishRequest.newBuilder()
                        .setTopic(topic)
                        .addMessages(PubsubMessage.newBuilder().setData(body))
                        .build());
    runConcurrently(concurrency, 1_000, publish);
    drainBare(subscriber, subscription, 1_000, concurrency, null);

    long start = System.nanoTime();
    runConcurrently(concurrency, tasks, publish);
    double enqueue = tasks / seconds(start);
    start = System.nanoTime();
    drainBare(subscriber, subscription, tasks, concurrency, null);
    double drain = tasks / seconds(start);

    int count = Math.max(1, tasks / 10);
    long[] latencies = new long[count];
    Thread consumer =
        Thread.ofPlatform()
            .start(() -> drainBare(subscriber, subscription, count, concurrency, latencies));
    runConcurrently(
        concurrency,
        count,
        i ->
            publisher
                .publishCallable()
                .call(
                    PublishRequest.newBuilder()
                        .setTopic(topic)
                        .addMessages(
                            PubsubMessage.newBuilder()
                                .setData(
                                    ByteString.copyFrom(
                                        ByteBuffer.allocate(8).putLong(System.nanoTime()).array())))
                        .build()));
    consumer.join();
    return new Result(
        "bare Pub/Sub stub",
        concurrency,
        enqueue,
        drain,
        percentile(latencies, 0.50),
        percentile(latencies, 0.99));
  }

  /**
   * One puller (up to 1,000 per pull), {@code concurrency} threads that take the messages, one
   * batching acker.
   */
  @SuppressWarnings("deprecation")
  private static void drainBare(
      SubscriberStub subscriber,
      String subscription,
      int count,
      int concurrency,
      long[] latencies) {
    ExecutorService workers = Executors.newFixedThreadPool(concurrency);
    LinkedBlockingQueue<String> acks = new LinkedBlockingQueue<>();
    AtomicInteger finished = new AtomicInteger();
    Thread acker =
        Thread.ofPlatform()
            .start(
                () -> {
                  int acked = 0;
                  List<String> batch = new ArrayList<>();
                  try {
                    while (acked < count) {
                      batch.add(acks.take());
                      acks.drainTo(batch, 999);
                      subscriber
                          .acknowledgeCallable()
                          .call(
                              AcknowledgeRequest.newBuilder()
                                  .setSubscription(subscription)
                                  .addAllAckIds(batch)
                                  .build());
                      acked += batch.size();
                      batch.clear();
                    }
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                });
    int pulled = 0;
    while (pulled < count) {
      List<ReceivedMessage> got =
          subscriber
              .pullCallable()
              .call(
                  PullRequest.newBuilder()
                      .setSubscription(subscription)
                      .setMaxMessages(Math.min(1000, count - pulled))
                      .build())
              .getReceivedMessagesList();
      pulled += got.size();
      for (ReceivedMessage m : got) {
        workers.execute(
            () -> {
              if (latencies != null) {
                int i = finished.getAndIncrement();
                if (i < latencies.length) {
                  latencies[i] =
                      System.nanoTime() - m.getMessage().getData().asReadOnlyByteBuffer().getLong();
                }
              }
              acks.add(m.getAckId());
            });
      }
    }
    try {
      acker.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    workers.shutdown();
  }

  // ------------------------------------------------------------------------------------------
  // helpers

}
