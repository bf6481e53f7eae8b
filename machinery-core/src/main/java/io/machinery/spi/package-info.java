/**
 * The service-provider interface a broker, result backend or lock implements: {@link
 * io.machinery.spi.Broker} (with {@link io.machinery.spi.Consumption}, {@link
 * io.machinery.spi.Delivery} and the worker's {@link io.machinery.spi.DeliveryHandler}), {@link
 * io.machinery.spi.Backend} (with {@link io.machinery.spi.GroupMeta}) and {@link
 * io.machinery.spi.Lock}. They are Go's {@code brokers/iface}, {@code backends/iface} and {@code
 * locks/iface}, reshaped for at-least-once delivery: the worker pulls, reserves slots before the
 * broker fetches, and settles each delivery exactly once. Implementations are passed to {@link
 * io.machinery.Server#builder()} explicitly, or made from a config's URL by the module's {@link
 * io.machinery.spi.ComponentProvider} through {@link io.machinery.Machinery#connect} (chosen by URL
 * scheme, never by a class name read from a config or a message). A new implementation proves
 * itself by subclassing the contract kits of {@code machinery-testkit} ({@code BrokerContract},
 * {@code BackendContract}, {@code LockContract}, {@code AcceptanceSuite}); {@code
 * docs/architecture.md} shows where a module plugs in.
 */
@NullMarked
package io.machinery.spi;

import org.jspecify.annotations.NullMarked;
