/**
 * Contract test kits and the acceptance suite. Every broker, backend and lock module subclasses the
 * kit for its kind in a short test class; see {@link io.machinery.testkit.BrokerContract}.
 */
@NullMarked
package io.machinery.testkit;

import org.jspecify.annotations.NullMarked;
