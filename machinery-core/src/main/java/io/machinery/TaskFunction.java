package io.machinery;

import io.machinery.internal.Coercion;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A function registered as a task: its parameter types (to read the message's arguments) and how to
 * call it. Go registers any {@code func}; Java needs the parameter types, so a task is built from a
 * method or from a lambda with its parameter classes:
 *
 * <pre>{@code
 * server.registerTask("add", TaskFunction.varargs(long[].class, args -> LongStream.of(args).sum()));
 * server.registerTask("sum", TaskFunction.of(long[].class, numbers -> LongStream.of(numbers).sum()));
 * server.registerTask("concat", TaskFunction.of(String.class, String.class, (a, b) -> a + b));
 * server.registerTask("multiply", TaskFunction.fromMethod(new MyTasks(), "multiply"));
 * }</pre>
 *
 * <p>A task returns nothing ({@code null} or a void method: zero results), one value, or several as
 * {@link TaskResults}. Values are typed by their Java class ({@code long → int64}, {@code String →
 * string}, ...); return a {@link TaskResult} to name the Go type yourself. A thrown exception is
 * the task's error; its message is stored as the error text. Throw {@link RetryTaskLaterException}
 * to run again later.
 *
 * <p>Immutable and thread-safe when the wrapped function is.
 */
public final class TaskFunction {

  /** A task without parameters. */
  @FunctionalInterface
  public interface Fn0 {
    /**
     * Runs the task.
     *
     * @return the result: null for none, a value, {@link TaskResults} or a {@link TaskResult}
     * @throws Exception the task's error
     */
    @Nullable Object call() throws Exception;
  }

  /**
   * A task with one parameter.
   *
   * @param <A> the parameter type
   */
  @FunctionalInterface
  public interface Fn1<A> {
    /**
     * Runs the task.
     *
     * @param a the first argument
     * @return the result: null for none, a value, {@link TaskResults} or a {@link TaskResult}
     * @throws Exception the task's error
     */
    @Nullable Object call(A a) throws Exception;
  }

  /**
   * A task with two parameters.
   *
   * @param <A> the first parameter type
   * @param <B> the second parameter type
   */
  @FunctionalInterface
  public interface Fn2<A, B> {
    /**
     * Runs the task.
     *
     * @param a the first argument
     * @param b the second argument
     * @return the result: null for none, a value, {@link TaskResults} or a {@link TaskResult}
     * @throws Exception the task's error
     */
    @Nullable Object call(A a, B b) throws Exception;
  }

  /**
   * A task with three parameters.
   *
   * @param <A> the first parameter type
   * @param <B> the second parameter type
   * @param <C> the third parameter type
   */
  @FunctionalInterface
  public interface Fn3<A, B, C> {
    /**
     * Runs the task.
     *
     * @param a the first argument
     * @param b the second argument
     * @param c the third argument
     * @return the result: null for none, a value, {@link TaskResults} or a {@link TaskResult}
     * @throws Exception the task's error
     */
    @Nullable Object call(A a, B b, C c) throws Exception;
  }

  /** A task that also receives its {@link TaskContext}. */
  @FunctionalInterface
  public interface ContextFn {
    /**
     * Runs the task.
     *
     * @param context what the run may know about itself
     * @param args the arguments, converted to the declared parameter types
     * @return the result: null for none, a value, {@link TaskResults} or a {@link TaskResult}
     * @throws Exception the task's error
     */
    @Nullable Object call(TaskContext context, @Nullable Object[] args) throws Exception;
  }

  /**
   * A batched task's function: it receives the tasks of a batch and returns their results.
   *
   * @see #batchedWithContext
   */
  @FunctionalInterface
  public interface BatchFn {
    /**
     * Runs a batch of tasks.
     *
     * @param items the tasks, in the order they arrived
     * @return one result per task, in their order: a value, null for none, {@link TaskResults}, a
     *     {@link TaskResult}, or a {@link Throwable} that fails that task alone ({@link
     *     RetryTaskLaterException} too); or null for no result for any of them
     * @throws Exception an error that fails every task of the batch
     */
    @Nullable List<?> call(List<BatchItem> items) throws Exception;
  }

  /**
   * A batched task's function over tasks of one parameter.
   *
   * @param <A> the parameter type
   * @see #batched
   */
  @FunctionalInterface
  public interface BatchFn1<A> {
    /**
     * Runs a batch of tasks.
     *
     * @param args each task's argument, in the order the tasks arrived
     * @return as {@link BatchFn#call}
     * @throws Exception an error that fails every task of the batch
     */
    @Nullable List<?> call(List<A> args) throws Exception;
  }

  @FunctionalInterface
  private interface Invoker {
    @Nullable Object invoke(TaskContext context, @Nullable Object[] args) throws Exception;
  }

  private final List<Type> parameterTypes;
  private final boolean varargs;
  private final Invoker invoker;
  private final String description;

  private TaskFunction(
      List<Type> parameterTypes, boolean varargs, Invoker invoker, String description) {
    this.parameterTypes = List.copyOf(parameterTypes);
    this.varargs = varargs;
    this.invoker = invoker;
    this.description = description;
    for (Type type : parameterTypes) {
      Coercion.checkSupported(type);
    }
    if (varargs
        && (parameterTypes.isEmpty()
            || !Coercion.isSequence(parameterTypes.get(parameterTypes.size() - 1)))) {
      throw new IllegalArgumentException(
          "a varargs task needs an array or List as its last parameter");
    }
  }

  /**
   * Creates a task without parameters.
   *
   * @param fn the code to run
   * @return the task function
   */
  public static TaskFunction of(Fn0 fn) {
    Objects.requireNonNull(fn, "fn");
    return new TaskFunction(List.of(), false, (ctx, a) -> fn.call(), "lambda()");
  }

  /**
   * Creates a task with one parameter; the message's argument is converted to {@code a}.
   *
   * @param <A> the parameter type
   * @param a the parameter's class (an array or {@code List} class takes a Go slice)
   * @param fn the code to run
   * @return the task function
   * @throws IllegalArgumentException if {@code a} has no Go counterpart
   */
  @SuppressWarnings("unchecked")
  public static <A> TaskFunction of(Class<A> a, Fn1<A> fn) {
    Objects.requireNonNull(fn, "fn");
    return new TaskFunction(
        List.of(a),
        false,
        (ctx, args) -> fn.call((A) args[0]),
        "lambda(" + a.getSimpleName() + ")");
  }

  /**
   * Creates a task with two parameters.
   *
   * @param <A> the first parameter type
   * @param <B> the second parameter type
   * @param a the first parameter's class
   * @param b the second parameter's class
   * @param fn the code to run
   * @return the task function
   * @throws IllegalArgumentException if a class has no Go counterpart
   */
  @SuppressWarnings("unchecked")
  public static <A, B> TaskFunction of(Class<A> a, Class<B> b, Fn2<A, B> fn) {
    Objects.requireNonNull(fn, "fn");
    return new TaskFunction(
        List.of(a, b),
        false,
        (ctx, args) -> fn.call((A) args[0], (B) args[1]),
        "lambda(" + a.getSimpleName() + ", " + b.getSimpleName() + ")");
  }

  /**
   * Creates a task with three parameters.
   *
   * @param <A> the first parameter type
   * @param <B> the second parameter type
   * @param <C> the third parameter type
   * @param a the first parameter's class
   * @param b the second parameter's class
   * @param c the third parameter's class
   * @param fn the code to run
   * @return the task function
   * @throws IllegalArgumentException if a class has no Go counterpart
   */
  @SuppressWarnings("unchecked")
  public static <A, B, C> TaskFunction of(Class<A> a, Class<B> b, Class<C> c, Fn3<A, B, C> fn) {
    Objects.requireNonNull(fn, "fn");
    return new TaskFunction(
        List.of(a, b, c),
        false,
        (ctx, args) -> fn.call((A) args[0], (B) args[1], (C) args[2]),
        "lambda(" + a.getSimpleName() + ", " + b.getSimpleName() + ", " + c.getSimpleName() + ")");
  }

  /**
   * Creates a variadic task, Go's {@code func(args ...int64)}: every argument of the message is
   * collected into one array or list of {@code arrayType}.
   *
   * @param <A> the array type
   * @param arrayType the array class, such as {@code long[].class}
   * @param fn the code to run
   * @return the task function
   * @throws IllegalArgumentException if {@code arrayType} is not an array of a type with a Go
   *     counterpart
   */
  @SuppressWarnings("unchecked")
  public static <A> TaskFunction varargs(Class<A> arrayType, Fn1<A> fn) {
    Objects.requireNonNull(fn, "fn");
    return new TaskFunction(
        List.of(arrayType),
        true,
        (ctx, args) -> fn.call((A) args[0]),
        "lambda(" + arrayType.getSimpleName() + "...)");
  }

  /**
   * Creates a task that receives its context and the arguments converted to {@code parameterTypes}
   * (the last one collecting the rest when {@code varargs}).
   *
   * @param parameterTypes the classes the arguments are converted to, without the context
   * @param varargs whether the last class (an array or {@code List}) collects the remaining
   *     arguments
   * @param fn the code to run
   * @return the task function
   * @throws IllegalArgumentException if a class has no Go counterpart, or {@code varargs} is set
   *     and the last class is not an array or {@code List}
   */
  public static TaskFunction withContext(
      List<Class<?>> parameterTypes, boolean varargs, ContextFn fn) {
    Objects.requireNonNull(fn, "fn");
    return new TaskFunction(
        new ArrayList<>(parameterTypes), varargs, fn::call, "lambda(TaskContext, ...)");
  }

  /**
   * A task of one parameter whose runs are gathered into batches: {@code fn} receives the arguments
   * of up to {@link BatchPolicy#maxSize()} tasks at once, as {@link #batchedWithContext} says.
   *
   * <pre>{@code
   * server.registerTask("index_document", TaskFunction.batched(
   *     String.class, BatchPolicy.of(100, Duration.ofMillis(200)),
   *     ids -> searchIndex.bulkIndex(ids)));  // a List with one result per id
   * }</pre>
   *
   * @param <A> the parameter type
   * @param a the class the argument is converted to
   * @param policy when a batch runs
   * @param fn the code to run for a batch
   * @return the task function; register it under one name
   * @throws IllegalArgumentException if the class has no Go counterpart
   */
  @SuppressWarnings("unchecked")
  public static <A> TaskFunction batched(Class<A> a, BatchPolicy policy, BatchFn1<A> fn) {
    Objects.requireNonNull(fn, "fn");
    return batchedWithContext(
        List.of(a),
        false,
        policy,
        items -> fn.call(items.stream().map(i -> (A) i.args().get(0)).toList()));
  }

  /**
   * A task whose runs are gathered into batches, for work that is cheaper in bulk: one bulk insert,
   * one HTTP call or one SMTP session for many tasks. Each task is delivered, leased, timed out,
   * retried, stored and acknowledged as any other, and may be sent by Go; its run waits in its
   * worker slot until its batch runs, then ends with its own result. A batch runs when {@link
   * BatchPolicy#maxSize()} tasks wait or {@link BatchPolicy#maxDelay()} after its first task
   * arrived. The tasks of a batch come from every worker of this server that runs the task; waiting
   * tasks hold their slots, so a batch fills only up to those workers' concurrency. A task
   * cancelled while its batch waits leaves it; one cancelled or timed out once the batch runs
   * fails, and its result is dropped. {@code fn} runs on a thread of the batch, not of any of its
   * tasks. Each returned TaskFunction has its own batches: register it under one name.
   *
   * @param parameterTypes the classes each task's arguments are converted to
   * @param varargs whether the last class (an array or {@code List}) collects the remaining
   *     arguments
   * @param policy when a batch runs
   * @param fn the code to run for a batch: one result per task, or a {@link Throwable} in a task's
   *     place to fail it alone; what it throws fails every task of the batch
   * @return the task function
   * @throws IllegalArgumentException if a class has no Go counterpart, or {@code varargs} is set
   *     and the last class is not an array or {@code List}
   */
  public static TaskFunction batchedWithContext(
      List<Class<?>> parameterTypes, boolean varargs, BatchPolicy policy, BatchFn fn) {
    return batchedWithContext(parameterTypes, varargs, policy, item -> "", fn);
  }

  /**
   * As {@link #batchedWithContext(List, boolean, BatchPolicy, BatchFn)}, with batches per key: a
   * batch holds only tasks of one key, and each key's batches run by the policy on their own, as
   * Asynq groups tasks. For one digest per recipient, one bulk call per tenant or per shard.
   *
   * <pre>{@code
   * server.registerTask("notify", TaskFunction.batchedWithContext(
   *     List.of(String.class, String.class), false,            // recipient, message
   *     BatchPolicy.of(50, Duration.ofMinutes(1)),
   *     item -> (String) item.args().get(0),                    // one batch per recipient
   *     items -> mailer.sendDigest(items)));                    // one result per item
   * }</pre>
   *
   * @param parameterTypes the classes each task's arguments are converted to
   * @param varargs whether the last class (an array or {@code List}) collects the remaining
   *     arguments
   * @param policy when a batch runs, for each key
   * @param key a task's batch key, from its arguments or context; not null
   * @param fn the code to run for a batch of one key
   * @return the task function
   * @throws IllegalArgumentException as {@link #batchedWithContext(List, boolean, BatchPolicy,
   *     BatchFn)}
   */
  public static TaskFunction batchedWithContext(
      List<Class<?>> parameterTypes,
      boolean varargs,
      BatchPolicy policy,
      java.util.function.Function<BatchItem, String> key,
      BatchFn fn) {
    Objects.requireNonNull(policy, "policy");
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(fn, "fn");
    Batcher batcher = new Batcher(policy, key, fn);
    return new TaskFunction(
        new ArrayList<>(parameterTypes), varargs, batcher::submit, "batched(" + policy + ")");
  }

  /**
   * The public method {@code methodName} of {@code target} (exactly one method of that name must
   * exist). A first parameter of type {@link TaskContext} receives the context; a Java varargs
   * method is a Go variadic task; generic parameters such as {@code List<Long>} are honoured.
   *
   * @param target the object whose method is called
   * @param methodName the method's name
   * @return the task function
   * @throws IllegalArgumentException if there is no such public method, or several, or a parameter
   *     type has no Go counterpart
   */
  public static TaskFunction fromMethod(Object target, String methodName) {
    Objects.requireNonNull(target, "target");
    Method[] matches =
        Arrays.stream(target.getClass().getMethods())
            .filter(m -> m.getName().equals(methodName))
            .toArray(Method[]::new);
    if (matches.length != 1) {
      throw new IllegalArgumentException(
          matches.length == 0
              ? target.getClass().getName() + " has no public method " + methodName
              : target.getClass().getName()
                  + " has "
                  + matches.length
                  + " public methods named "
                  + methodName
                  + "; use fromMethod(target, Method)");
    }
    return fromMethod(target, matches[0]);
  }

  /**
   * Creates a task that calls {@code method} on {@code target}, as {@link #fromMethod(Object,
   * String)} does.
   *
   * @param target the object to call the method on; null for a static method
   * @param method the method
   * @return the task function
   * @throws IllegalArgumentException if {@code target} is null for an instance method, or a
   *     parameter type has no Go counterpart
   */
  public static TaskFunction fromMethod(@Nullable Object target, Method method) {
    Objects.requireNonNull(method, "method");
    if (!Modifier.isStatic(method.getModifiers()) && target == null) {
      throw new IllegalArgumentException(
          method + " is an instance method; pass the object to call it on");
    }
    Type[] types = method.getGenericParameterTypes();
    boolean withContext = types.length > 0 && types[0] == TaskContext.class;
    List<Type> params = Arrays.asList(types).subList(withContext ? 1 : 0, types.length);
    method.setAccessible(true);
    Invoker invoker =
        (ctx, args) -> {
          @Nullable Object[] full = withContext ? prepend(ctx, args) : args;
          try {
            return method.invoke(target, full);
          } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) throw ex;
            if (cause instanceof Error err) throw err;
            throw e;
          }
        };
    return new TaskFunction(params, method.isVarArgs(), invoker, method.toString());
  }

  private static Object[] prepend(TaskContext ctx, @Nullable Object[] args) {
    Object[] full = new Object[args.length + 1];
    full[0] = ctx;
    System.arraycopy(args, 0, full, 1, args.length);
    return full;
  }

  /**
   * Returns the Java parameter types arguments are converted to.
   *
   * @return the types, without a context parameter
   */
  public List<Type> parameterTypes() {
    return parameterTypes;
  }

  /**
   * Tells whether the last parameter collects the remaining arguments (a Go variadic function).
   *
   * @return true for a variadic task
   */
  public boolean isVarargs() {
    return varargs;
  }

  /**
   * Converts typed argument values (see {@link Arg#typedValue()}) to this function's parameters.
   *
   * @throws IllegalArgumentException with Go's reflect texts ("reflect: Call with too few input
   *     arguments", "reflect: Call using string as type int64")
   */
  @Nullable Object[] bind(List<Arg> args, List<@Nullable Object> typed) {
    int fixed = varargs ? parameterTypes.size() - 1 : parameterTypes.size();
    if (typed.size() < fixed) {
      throw new IllegalArgumentException("reflect: Call with too few input arguments");
    }
    if (!varargs && typed.size() > fixed) {
      throw new IllegalArgumentException("reflect: Call with too many input arguments");
    }
    @Nullable Object[] out = new Object[parameterTypes.size()];
    for (int i = 0; i < fixed; i++) {
      out[i] = Coercion.convert(typed.get(i), args.get(i).type(), parameterTypes.get(i));
    }
    if (varargs) {
      Type last = parameterTypes.get(fixed);
      List<@Nullable Object> rest = typed.subList(fixed, typed.size());
      List<Arg> restArgs = args.subList(fixed, args.size());
      out[fixed] = Coercion.collectVarargs(rest, restArgs.stream().map(Arg::type).toList(), last);
    }
    return out;
  }

  @Nullable Object invoke(TaskContext context, @Nullable Object[] args) throws Exception {
    return invoker.invoke(context, args);
  }

  @Override
  public String toString() {
    return description;
  }
}
