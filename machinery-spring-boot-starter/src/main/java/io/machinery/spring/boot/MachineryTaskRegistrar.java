package io.machinery.spring.boot;

import io.machinery.BatchPolicy;
import io.machinery.Server;
import io.machinery.TaskFunction;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.springframework.aop.scope.ScopedProxyUtils;
import org.springframework.aop.support.AopUtils;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanFactoryAware;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.core.MethodIntrospector;
import org.springframework.core.annotation.AnnotatedElementUtils;

/**
 * Finds {@link MachineryTask} methods on every bean as it is initialised, and registers them on the
 * {@link Server} once all singletons exist (before any lifecycle bean starts, so workers never see
 * a task missing).
 *
 * <p>Design notes: it is a {@link BeanPostProcessor}, so it must not make the Server early (that
 * would take the Server and its broker out of other post-processors' reach); it only collects, and
 * asks the {@link ObjectProvider} for the Server in {@link #afterSingletonsInstantiated()}. A task
 * is a method of the bean the context holds (a proxy when there is one), looked up with {@link
 * AopUtils#selectInvocableMethod}, so aspects apply. Two methods with one task name fail the start
 * with both names: silently replacing one (what {@link Server#registerTask} does) would hide a
 * mistake. A scoped bean with a scoped proxy ({@code @Scope(proxyMode = TARGET_CLASS)}, a refresh
 * scope) is made only when called, so it is found by its bean definition and its task calls the
 * proxy; the targets the scope makes later are the same task, not a second one. A task bean made
 * after {@link #afterSingletonsInstantiated()} (a {@code @Lazy} one, first asked for later) is
 * registered at once, and the queue it names goes to the follower ({@link MachineryWorkers#follow},
 * which starts its worker in the background and returns at once), called outside this object's
 * lock: the workers call {@link #extraQueues()} under theirs.
 */
final class MachineryTaskRegistrar
    implements BeanPostProcessor, SmartInitializingSingleton, BeanFactoryAware {
  private record Found(String beanName, Object bean, Method method, MachineryTask annotation) {}

  private final ObjectProvider<Server> server;
  private final Map<String, Found> byName = new LinkedHashMap<>();
  private boolean registered;
  private volatile @Nullable Consumer<String> lateQueueFollower;
  private @Nullable ListableBeanFactory beanFactory;

  MachineryTaskRegistrar(ObjectProvider<Server> server) {
    this.server = server;
  }

  @Override
  public void setBeanFactory(BeanFactory value) {
    if (value instanceof ListableBeanFactory listable) {
      beanFactory = listable;
    }
  }

  @Override
  public Object postProcessAfterInitialization(Object bean, String beanName) {
    if (ScopedProxyUtils.isScopedTarget(beanName)) {
      return bean; // its scoped proxy holds the task (scopedProxies())
    }
    tasksOf(AopUtils.getTargetClass(bean))
        .forEach((method, annotation) -> add(new Found(beanName, bean, method, annotation)));
    return bean;
  }

  /** Whether {@code type} has a {@link MachineryTask} method. */
  static boolean hasTasks(Class<?> type) {
    return !tasksOf(type).isEmpty();
  }

  private static Map<Method, MachineryTask> tasksOf(Class<?> type) {
    return MethodIntrospector.selectMethods(
        type,
        (MethodIntrospector.MetadataLookup<MachineryTask>)
            m -> AnnotatedElementUtils.findMergedAnnotation(m, MachineryTask.class));
  }

  /**
   * The tasks of scoped beans behind a scoped proxy: neither the proxy (made on first lookup) nor
   * the target (made in its scope) needs to exist at startup, so they are found by bean definition.
   */
  private void scopedProxies() {
    if (beanFactory == null) {
      return;
    }
    for (String name : beanFactory.getBeanDefinitionNames()) {
      if (!ScopedProxyUtils.isScopedTarget(name)) {
        continue;
      }
      Class<?> type = beanFactory.getType(name, false);
      String proxyName = ScopedProxyUtils.getOriginalBeanName(name);
      if (type == null || !beanFactory.containsBean(proxyName)) {
        continue;
      }
      Map<Method, MachineryTask> methods = tasksOf(type);
      if (!methods.isEmpty()) {
        Object proxy = beanFactory.getBean(proxyName);
        methods.forEach(
            (method, annotation) -> add(new Found(proxyName, proxy, method, annotation)));
      }
    }
  }

  /**
   * Tells {@code follower} the queue of each task bean made after startup (the workers start one on
   * it).
   */
  void followLateQueues(Consumer<String> follower) {
    lateQueueFollower = follower;
  }

  private void add(Found found) {
    boolean late;
    synchronized (this) {
      late = addFound(found);
    }
    Consumer<String> follower = lateQueueFollower;
    if (late && follower != null) {
      follower.accept(found.annotation().queue());
    }
  }

  /** Keeps {@code found}; registers it at once, and returns true, once startup has registered. */
  private boolean addFound(Found found) {
    String name = found.annotation().value();
    if (name.isBlank()) {
      throw new IllegalStateException(
          "@MachineryTask on " + describe(found) + " has an empty task name");
    }
    Found earlier = byName.putIfAbsent(name, found);
    if (earlier != null
        && !(earlier.method().equals(found.method())
            && earlier.beanName().equals(found.beanName()))) {
      throw new IllegalStateException(
          "task name '"
              + name
              + "' is used by two @MachineryTask methods: "
              + describe(earlier)
              + " and "
              + describe(found));
    }
    if (registered) {
      // A lazy bean made after startup: register it now (workers look tasks up per message).
      register(found);
    }
    return registered;
  }

  @Override
  public synchronized void afterSingletonsInstantiated() {
    scopedProxies();
    registered = true;
    byName.values().forEach(this::register);
  }

  private void register(Found found) {
    Method invocable = AopUtils.selectInvocableMethod(found.method(), found.bean().getClass());
    TaskFunction function;
    try {
      function =
          found.annotation().batchSize() > 0
              ? batched(found, invocable)
              : TaskFunction.fromMethod(found.bean(), invocable);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException(
          "@MachineryTask(\""
              + found.annotation().value()
              + "\") on "
              + describe(found)
              + " cannot be a task: "
              + e.getMessage(),
          e);
    }
    server.getObject().registerTask(found.annotation().value(), function);
  }

  /**
   * A batched task from a method that takes a {@code List<A>} (each task's argument) and returns
   * one result per task.
   */
  private static TaskFunction batched(Found found, Method invocable) {
    Type[] parameters = invocable.getGenericParameterTypes();
    if (parameters.length != 1
        || !(parameters[0] instanceof ParameterizedType list)
        || list.getRawType() != List.class
        || !(list.getActualTypeArguments()[0] instanceof Class<?> element)) {
      throw new IllegalArgumentException(
          "a batched task method takes one List<A> parameter (each task's argument), not "
              + Arrays.toString(parameters));
    }
    BatchPolicy policy =
        BatchPolicy.of(
            found.annotation().batchSize(),
            Duration.ofMillis(found.annotation().batchDelayMillis()));
    invocable.setAccessible(true);
    return TaskFunction.batched(
        element,
        policy,
        args -> {
          Object results;
          try {
            results = invocable.invoke(found.bean(), args);
          } catch (InvocationTargetException e) {
            if (e.getCause() instanceof Exception cause) {
              throw cause;
            }
            throw e;
          }
          if (results != null && !(results instanceof List<?>)) {
            throw new IllegalStateException(
                "the batched task method "
                    + describe(found)
                    + " must return a List with one result per task, not a "
                    + results.getClass().getName());
          }
          return (List<?>) results;
        });
  }

  /** The task names found so far, in discovery order. */
  synchronized List<String> taskNames() {
    return new ArrayList<>(byName.keySet());
  }

  /** The queues named by {@link MachineryTask#queue()}, other than the default (empty) one. */
  synchronized Set<String> extraQueues() {
    Set<String> queues = new LinkedHashSet<>();
    byName
        .values()
        .forEach(
            f -> {
              if (!f.annotation().queue().isEmpty()) {
                queues.add(f.annotation().queue());
              }
            });
    return queues;
  }

  private static String describe(Found found) {
    return found.method().getDeclaringClass().getName()
        + "."
        + found.method().getName()
        + " (bean '"
        + found.beanName()
        + "')";
  }
}
