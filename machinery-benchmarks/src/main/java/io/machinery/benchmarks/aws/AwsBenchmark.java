package io.machinery.benchmarks.aws;

import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.sqs.SqsBroker;
import io.machinery.client.aws.AwsClients;
import io.machinery.config.Config;
import io.machinery.config.DynamoDbConfig;
import io.machinery.config.SqsConfig;
import io.machinery.spi.Backend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.DeleteMessageBatchRequestEntry;
import software.amazon.awssdk.services.sqs.model.Message;

/**
 * SQS + DynamoDB and SQS + Redis throughput, side by side with Go Machinery v2 in the same run, and
 * a bare AWS SDK ceiling. Each row: N no-op tasks sent by one sender (PENDING stored first, as Go
 * does), then drained by a worker of the given concurrency until N SUCCESS states are stored, after
 * a warm-up pass of every setup. The ceiling sends N bare messages from one thread and drains them
 * with C threads doing ReceiveMessage(10) + DeleteMessageBatch, storing nothing.
 *
 * <pre>
 * java -cp machinery-benchmarks/target/benchmarks.jar io.machinery.benchmarks.aws.AwsBenchmark \
 *   [-n 2000] [--concurrency 1,10,100] [--go-binary interop/go/bin/machinery-interop]
 * </pre>
 *
 * Endpoints from SQS_URL, DYNAMODB_ENDPOINT, REDIS_URL (scripts/services.sh env). Every row uses
 * fresh queues and tables, deleted afterwards.
 */
public final class AwsBenchmark {
  private AwsBenchmark() {}

  record Row(String setup, int concurrency, double enqueue, double drain) {}

  public static void main(String[] args) throws Exception {
    int tasks = 2_000;
    int warmup = 300;
    int[] concurrencies = {1, 10, 100};
    Path goBinary = Path.of("interop/go/bin/machinery-interop");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "-n", "--tasks" -> tasks = Integer.parseInt(args[++i]);
        case "--concurrency" ->
            concurrencies =
                Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
        case "--go-binary" -> goBinary = Path.of(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        default ->
            throw new IllegalArgumentException(
                "usage: AwsBenchmark [-n N] [--warmup W] [--concurrency 1,10,100] [--go-binary FILE]");
      }
    }
    String sqsUrl = env("SQS_URL");
    String dynamo = env("DYNAMODB_ENDPOINT");
    String redis = env("REDIS_URL");
    List<Row> rows = new ArrayList<>();
    try (SqsClient sqs = AwsClients.forSqsBroker(sqsUrl).build(SqsClient.builder());
        DynamoDbClient ddb =
            AwsClients.forDynamoDbBackend(dynamo).build(DynamoDbClient.builder())) {
      if (warmup > 0) {
        progress("warm-up: every setup once with %d tasks (discarded)", warmup);
        runAll(sqs, ddb, goBinary, sqsUrl, dynamo, redis, warmup, concurrencies, new ArrayList<>());
      }
      runAll(sqs, ddb, goBinary, sqsUrl, dynamo, redis, tasks, concurrencies, rows);
    }
    System.out.printf(
        "%n| setup | concurrency | enqueue tasks/s | drain tasks/s |%n|---|---:|---:|---:|%n");
    for (Row r : rows) {
      System.out.printf(
          Locale.ROOT,
          "| %s | %d | %,.0f | %,.0f |%n",
          r.setup(),
          r.concurrency(),
          r.enqueue(),
          r.drain());
    }
  }

  private static void runAll(
      SqsClient sqs,
      DynamoDbClient ddb,
      Path goBinary,
      String sqsUrl,
      String dynamo,
      String redis,
      int tasks,
      int[] concurrencies,
      List<Row> rows)
      throws Exception {
    {
      for (int c : concurrencies) {
        rows.add(ceiling(sqs, sqsUrl, tasks, c));
        for (String backend : List.of("dynamodb", "redis")) {
          String backendUrl = backend.equals("redis") ? redis : dynamo;
          DynamoDbConfig tables =
              new DynamoDbConfig("bench_states_" + id(), "bench_groups_" + id());
          if (backend.equals("dynamodb")) {
            DynamoDbBackend.createTables(ddb, tables);
          }
          try {
            if (Files.isExecutable(goBinary)) {
              rows.add(go(sqs, goBinary, sqsUrl, backendUrl, tables, tasks, c, backend));
            }
            rows.add(java(sqs, sqsUrl, backendUrl, tables, tasks, c, backend));
          } finally {
            if (backend.equals("dynamodb")) {
              ddb.deleteTable(r -> r.tableName(tables.taskStatesTable()));
              ddb.deleteTable(r -> r.tableName(tables.groupMetasTable()));
            }
          }
        }
      }
    }
  }

  private static String env(String name) {
    String value = System.getenv(name);
    if (value == null || value.isBlank()) {
      throw new IllegalStateException(
          name + " is not set: run scripts/services.sh start and source its env file");
    }
    return value;
  }

  private static String id() {
    return UUID.randomUUID().toString().substring(0, 8);
  }

  private static String newQueue(SqsClient sqs) {
    String queue = "bench_" + id();
    sqs.createQueue(r -> r.queueName(queue));
    return queue;
  }

  private static Row ceiling(SqsClient sqs, String sqsUrl, int tasks, int concurrency)
      throws Exception {
    String queue = newQueue(sqs);
    String url = sqsUrl + "/" + queue;
    try {
      long t0 = System.nanoTime();
      for (int i = 0; i < tasks; i++) {
        int n = i;
        sqs.sendMessage(r -> r.queueUrl(url).messageBody("{\"Name\":\"noop\",\"N\":" + n + "}"));
      }
      double enqueue = tasks / ((System.nanoTime() - t0) / 1e9);
      AtomicInteger drained = new AtomicInteger();
      long t1 = System.nanoTime();
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < concurrency; t++) {
        threads.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      while (drained.get() < tasks) {
                        List<Message> got =
                            sqs.receiveMessage(
                                    r -> r.queueUrl(url).maxNumberOfMessages(10).waitTimeSeconds(1))
                                .messages();
                        if (got.isEmpty()) {
                          continue;
                        }
                        List<DeleteMessageBatchRequestEntry> entries = new ArrayList<>();
                        for (int k = 0; k < got.size(); k++) {
                          entries.add(
                              DeleteMessageBatchRequestEntry.builder()
                                  .id(Integer.toString(k))
                                  .receiptHandle(got.get(k).receiptHandle())
                                  .build());
                        }
                        sqs.deleteMessageBatch(r -> r.queueUrl(url).entries(entries));
                        drained.addAndGet(got.size());
                      }
                    }));
      }
      for (Thread t : threads) {
        t.join();
      }
      double drain = tasks / ((System.nanoTime() - t1) / 1e9);
      progress("ceiling c=%d: enqueue %.0f/s drain %.0f/s", concurrency, enqueue, drain);
      return new Row("bare AWS SDK (SQS only)", concurrency, enqueue, drain);
    } finally {
      sqs.deleteQueue(r -> r.queueUrl(url));
    }
  }

  private static Row java(
      SqsClient sqs,
      String sqsUrl,
      String backendUrl,
      DynamoDbConfig tables,
      int tasks,
      int concurrency,
      String backendName)
      throws Exception {
    String queue = newQueue(sqs);
    Config config =
        Config.builder()
            .broker(sqsUrl)
            .resultBackend(backendUrl)
            .defaultQueue(queue)
            .dynamoDb(tables)
            .resultsExpireIn(600)
            .sqs(new SqsConfig(1, null, false))
            .noUnixSignals(true)
            .build();
    try (SqsBroker broker = SqsBroker.builder(config).client(sqs).build();
        Backend backend =
            backendName.equals("redis")
                ? RedisBackend.create(config)
                : DynamoDbBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("noop", TaskFunction.of(() -> null));
      long t0 = System.nanoTime();
      for (int i = 0; i < tasks; i++) {
        server.sendTask(Signature.create("noop"));
      }
      double enqueue = tasks / ((System.nanoTime() - t0) / 1e9);
      CountDownLatch done = new CountDownLatch(tasks);
      long t1 = System.nanoTime();
      Worker worker =
          server
              .workerBuilder("bench")
              .concurrency(concurrency)
              .postTaskHandler(s -> done.countDown())
              .build();
      worker.launchAsync();
      if (!done.await(600, TimeUnit.SECONDS)) {
        throw new IllegalStateException("Java drain did not finish in 600 s");
      }
      double drain = tasks / ((System.nanoTime() - t1) / 1e9);
      worker.quit();
      progress(
          "java sqs+%s c=%d: enqueue %.0f/s drain %.0f/s",
          backendName, concurrency, enqueue, drain);
      return new Row("Java: SQS + " + backendName, concurrency, enqueue, drain);
    } finally {
      sqs.deleteQueue(r -> r.queueUrl(sqsUrl + "/" + queue));
    }
  }

  private static Row go(
      SqsClient sqs,
      Path binary,
      String sqsUrl,
      String backendUrl,
      DynamoDbConfig tables,
      int tasks,
      int concurrency,
      String backendName)
      throws Exception {
    String queue = newQueue(sqs);
    try {
      ProcessBuilder pb =
          new ProcessBuilder(
              binary.toString(),
              "bench",
              "-broker",
              sqsUrl,
              "-backend",
              backendUrl,
              "-queue",
              queue,
              "-n",
              Integer.toString(tasks),
              "-concurrency",
              Integer.toString(concurrency),
              "-purge=false",
              "-results-expire-in",
              "600",
              "-max-seconds",
              "600");
      pb.environment().put("TASK_STATES_TABLE", tables.taskStatesTable());
      pb.environment().put("GROUP_METAS_TABLE", tables.groupMetasTable());
      pb.redirectError(ProcessBuilder.Redirect.DISCARD);
      Process process = pb.start();
      String out = new String(process.getInputStream().readAllBytes());
      if (process.waitFor() != 0) {
        throw new IllegalStateException("Go bench failed: " + out);
      }
      String json = out.lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElseThrow();
      progress("go sqs+%s c=%d: %s", backendName, concurrency, json);
      return new Row(
          "Go Machinery v2: SQS + " + backendName,
          concurrency,
          number(json, "enqueue_per_s"),
          number(json, "drain_per_s"));
    } finally {
      sqs.deleteQueue(r -> r.queueUrl(sqsUrl + "/" + queue));
    }
  }

  private static double number(String json, String field) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("\"" + field + "\":([-0-9.eE+]+)").matcher(json);
    if (!m.find()) {
      throw new IllegalStateException("no " + field + " in Go's output: " + json);
    }
    return Double.parseDouble(m.group(1));
  }

  private static void progress(String format, Object... args) {
    System.err.printf(Locale.ROOT, format + "%n", args);
  }
}
