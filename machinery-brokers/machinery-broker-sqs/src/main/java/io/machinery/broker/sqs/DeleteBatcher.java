package io.machinery.broker.sqs;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.awscore.AwsRequestOverrideConfiguration;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.sqs.model.BatchResultErrorEntry;
import software.amazon.awssdk.services.sqs.model.DeleteMessageBatchRequestEntry;
import software.amazon.awssdk.services.sqs.model.DeleteMessageBatchResponse;

/**
 * Deletes messages of one queue in batches: one platform thread (a virtual one would wait for a
 * carrier behind computing tasks while their messages' visibility runs out) sends {@code
 * DeleteMessageBatch} with whatever accumulated (up to 10) while the previous batch was in flight,
 * so a busy worker pays about one SQS call per ten acknowledgements and an idle one still deletes
 * at once. Each caller gets a future completed when its message is deleted (or with the failure);
 * until then its delivery keeps the message hidden with the visibility heartbeat (see {@link
 * SqsDelivery}), so a message waiting here behind a slow batch does not come back to run again.
 * Whatever one batch throws (not only an {@code SdkException}: a closed client throws {@code
 * IllegalStateException}, an {@code Error} may come from anywhere) fails that batch's futures and
 * the thread goes on, so no later caller waits on a future nobody completes. Each batch is bounded
 * as every settling call is ({@link SqsBroker#callBound()}): one that never answers fails its
 * futures at the bound, and the batches queued behind it go on.
 */
final class DeleteBatcher {
  private record Pending(String receiptHandle, CompletableFuture<Void> done) {}

  private final SqsClient client;
  private final String queueUrl;
  private final @Nullable AwsRequestOverrideConfiguration bound;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final Thread flusher;
  private volatile boolean closed;

  DeleteBatcher(
      SqsClient client,
      String queueUrl,
      @Nullable AwsRequestOverrideConfiguration bound,
      String name) {
    this.client = client;
    this.queueUrl = queueUrl;
    this.bound = bound;
    this.flusher = Thread.ofPlatform().daemon().name(name).start(this::run);
  }

  /** Queues a delete; after {@link #close()} it is sent at once on the calling thread. */
  CompletableFuture<Void> delete(String receiptHandle) {
    Pending pending = new Pending(receiptHandle, new CompletableFuture<>());
    if (closed) {
      send(List.of(pending));
      return pending.done();
    }
    queue.add(pending);
    if (closed) {
      // close() may have let the flusher end on an empty queue between the check and the add:
      // send what is left here rather than leave it queued for ever
      drain();
    }
    return pending.done();
  }

  private void drain() {
    List<Pending> batch = new ArrayList<>(SqsConsumer.MAX_BATCH);
    while (queue.drainTo(batch, SqsConsumer.MAX_BATCH) > 0) {
      send(batch);
      batch = new ArrayList<>(SqsConsumer.MAX_BATCH);
    }
  }

  private void run() {
    while (!closed || !queue.isEmpty()) {
      Pending first;
      try {
        first = queue.poll(100, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        continue; // nobody should interrupt it; the loop drains what is left
      }
      if (first == null) {
        continue;
      }
      List<Pending> batch = new ArrayList<>(SqsConsumer.MAX_BATCH);
      batch.add(first);
      queue.drainTo(batch, SqsConsumer.MAX_BATCH - 1);
      send(batch);
    }
  }

  private void send(List<Pending> batch) {
    try {
      List<DeleteMessageBatchRequestEntry> entries = new ArrayList<>(batch.size());
      for (int i = 0; i < batch.size(); i++) {
        entries.add(
            DeleteMessageBatchRequestEntry.builder()
                .id(Integer.toString(i))
                .receiptHandle(batch.get(i).receiptHandle())
                .build());
      }
      DeleteMessageBatchResponse response =
          client.deleteMessageBatch(
              r -> r.queueUrl(queueUrl).entries(entries).overrideConfiguration(bound));
      boolean[] failed = new boolean[batch.size()];
      for (BatchResultErrorEntry error : response.failed()) {
        int index = Integer.parseInt(error.id());
        failed[index] = true;
        batch
            .get(index)
            .done()
            .completeExceptionally(
                new IllegalStateException(error.code() + ": " + error.message()));
      }
      for (int i = 0; i < batch.size(); i++) {
        if (!failed[i]) {
          batch.get(i).done().complete(null);
        }
      }
    } catch (Throwable e) { // anything: the thread must survive for the acks that follow
      batch.forEach(p -> p.done().completeExceptionally(e));
    }
  }

  /**
   * Sends what is queued and ends the flusher (waits up to 5 s). No interrupt: the flusher's wait
   * ends within 100 ms anyway, and an interrupt could abort a delete in flight, whose message would
   * then run again.
   */
  void close() {
    closed = true;
    try {
      flusher.join(java.time.Duration.ofSeconds(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
