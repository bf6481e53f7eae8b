package io.machinery.broker.sqs;

import io.machinery.client.aws.AwsClients;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.CloseAfterEach;
import io.machinery.testkit.TestEndpoints;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import software.amazon.awssdk.core.SdkRequest;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.services.sqs.SqsClient;

/**
 * What an SQS integration test sets up and must tear down, as one JUnit extension: queues of its
 * own (unique names, deleted after the class) and brokers, clients and consumptions (closed after
 * each test, newest first, by {@link CloseAfterEach}). Its clients talk to the test ElasticMQ and
 * may show each request to an interceptor first (to record it, hold it, or refuse it as AWS would
 * where ElasticMQ does not) or fail one method with any throwable (what no server does on demand).
 *
 * <p>Registered in a static field, so it also runs after the class: {@code @RegisterExtension
 * static final SqsTestResources sqs = new SqsTestResources();}. Not for tests run in parallel
 * within a class.
 */
final class SqsTestResources extends CloseAfterEach implements AfterAllCallback {
  /** A config as {@link SqsTestQueues#config()} gives it, on a standard queue of its own. */
  Config queue(String prefix) {
    return queue(SqsTestQueues.config(), prefix);
  }

  /** {@code base} on a standard queue of its own (not created yet). */
  Config queue(Config.Builder base, String prefix) {
    Config config = BrokerContract.uniqueQueue(base.build(), prefix);
    SqsTestQueues.track(config.defaultQueue());
    return config;
  }

  /** A config as {@link SqsTestQueues#config()} gives it, on a FIFO queue of its own. */
  Config fifoQueue(String prefix) {
    Config base = BrokerContract.uniqueQueue(SqsTestQueues.config().build(), prefix);
    String fifo = base.defaultQueue() + ".fifo";
    SqsTestQueues.track(fifo);
    return base.toBuilder().defaultQueue(fifo).build();
  }

  /** A broker on {@code client} that creates its queues. */
  SqsBroker broker(Config config, SqsClient client) {
    return closeLater(SqsBroker.builder(config).client(client).createQueues(true).build());
  }

  /** A client on the test SQS whose requests pass through {@code interceptor}. */
  SqsClient client(ExecutionInterceptor interceptor) {
    return closeLater(
        AwsClients.forSqsBroker(TestEndpoints.sqsUrl())
            .build(
                SqsClient.builder()
                    .overrideConfiguration(o -> o.addExecutionInterceptor(interceptor))));
  }

  /** A client on the test SQS that shows each request to {@code before} first, which may throw. */
  SqsClient intercepting(Consumer<SdkRequest> before) {
    return client(
        new ExecutionInterceptor() {
          @Override
          public void beforeExecution(
              Context.BeforeExecution context, ExecutionAttributes attributes) {
            before.accept(context.request());
          }
        });
  }

  /**
   * A client on the test SQS with one injected fault: the n-th call of method {@code name} (any
   * overload) throws {@code fault.apply(n)} unless that is null; {@code calls} counts those calls.
   * What it throws reaches the caller as it is (an interceptor's would be wrapped by the SDK).
   */
  SqsClient failing(String name, AtomicInteger calls, IntFunction<@Nullable Throwable> fault) {
    SqsClient real =
        closeLater(AwsClients.forSqsBroker(TestEndpoints.sqsUrl()).build(SqsClient.builder()));
    return (SqsClient)
        Proxy.newProxyInstance(
            SqsClient.class.getClassLoader(),
            new Class<?>[] {SqsClient.class},
            (proxy, method, args) -> {
              if (method.getName().equals(name)) {
                Throwable t = fault.apply(calls.incrementAndGet());
                if (t != null) {
                  throw t;
                }
              }
              try {
                return method.invoke(real, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  @Override
  public void afterAll(ExtensionContext context) {
    SqsTestQueues.deleteTracked();
  }
}
