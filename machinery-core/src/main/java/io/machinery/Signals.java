package io.machinery;

import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** SIGINT/SIGTERM handling for a worker that asked for it: first signal graceful, second abrupt. */
final class Signals {
  private static final Logger log = LoggerFactory.getLogger(Signals.class);

  private Signals() {}

  @SuppressWarnings("removal")
  static void install(Worker worker) {
    AtomicInteger received = new AtomicInteger();
    sun.misc.SignalHandler handler =
        signal -> {
          if (received.incrementAndGet() == 1) {
            log.info(
                "Signal {} received: waiting for running tasks to finish before shutting down",
                signal.getName());
            Thread.ofPlatform().name("machinery-graceful-quit").start(worker::quit);
          } else {
            log.warn("Signal {} received again: quitting abruptly", signal.getName());
            worker.quitAbruptly();
          }
        };
    for (String name : new String[] {"INT", "TERM"}) {
      try {
        sun.misc.Signal.handle(new sun.misc.Signal(name), handler);
      } catch (IllegalArgumentException e) {
        log.warn("Cannot handle SIG{} here: {}", name, e.getMessage());
      }
    }
  }
}
