package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import software.amazon.awssdk.core.SdkRequest;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttribute;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;

/**
 * A slow SQS call on demand: once armed, the next request that matches is held before it leaves for
 * the server (SQS throttling, a network stall) until the test releases it; then it goes on as
 * usual. Also counts, by request type, the calls the server answered. For a client of {@link
 * SqsTestResources#client}.
 */
final class HeldRequest implements ExecutionInterceptor {
  private static final ExecutionAttribute<Boolean> HELD = new ExecutionAttribute<>("held");
  private final Predicate<SdkRequest> which;
  private final AtomicBoolean armed = new AtomicBoolean();
  private final CountDownLatch held = new CountDownLatch(1);
  private final CountDownLatch released = new CountDownLatch(1);
  private final CountDownLatch heldAnswered = new CountDownLatch(1);
  private final Map<Class<?>, AtomicInteger> answered = new ConcurrentHashMap<>();

  /** Holds the next request that {@code which} accepts, once {@link #holdNext()} armed it. */
  HeldRequest(Predicate<SdkRequest> which) {
    this.which = which;
  }

  void holdNext() {
    armed.set(true);
  }

  void awaitHeld() throws InterruptedException {
    assertThat(held.await(30, TimeUnit.SECONDS)).as("the request to hold was sent").isTrue();
  }

  void release() {
    released.countDown();
  }

  void awaitHeldAnswered() throws InterruptedException {
    assertThat(heldAnswered.await(30, TimeUnit.SECONDS)).as("the held request ended").isTrue();
  }

  /** How many requests of {@code type} the server answered. */
  int answered(Class<? extends SdkRequest> type) {
    AtomicInteger count = answered.get(type);
    return count == null ? 0 : count.get();
  }

  @Override
  public void beforeTransmission(
      Context.BeforeTransmission context, ExecutionAttributes attributes) {
    if (which.test(context.request()) && armed.compareAndSet(true, false)) {
      attributes.putAttribute(HELD, true);
      held.countDown();
      try {
        if (!released.await(60, TimeUnit.SECONDS)) {
          throw new IllegalStateException("the held request was never released");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted holding a request", e);
      }
    }
  }

  @Override
  public void afterExecution(Context.AfterExecution context, ExecutionAttributes attributes) {
    answered
        .computeIfAbsent(context.request().getClass(), c -> new AtomicInteger())
        .incrementAndGet();
    ended(attributes);
  }

  @Override
  public void onExecutionFailure(Context.FailedExecution context, ExecutionAttributes attributes) {
    ended(attributes);
  }

  private void ended(ExecutionAttributes attributes) {
    if (Boolean.TRUE.equals(attributes.getAttribute(HELD))) {
      heldAnswered.countDown();
    }
  }
}
