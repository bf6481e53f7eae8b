package io.machinery.testkit;

import io.machinery.embedded.EagerLock;
import io.machinery.spi.Lock;

class EagerLockContractTest extends LockContract {
  @Override
  protected Lock createLock() {
    return EagerLock.create();
  }

  @Override
  protected Lock createRival() {
    return lock; // an in-process lock's store is the instance
  }
}
