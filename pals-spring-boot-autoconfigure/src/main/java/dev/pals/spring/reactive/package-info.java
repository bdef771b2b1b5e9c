/**
 * Reactive access to advisory locks, for services with Reactor: {@link ReactiveLockRegistry}
 * acquires without blocking a subscriber's thread and holds a lock for a publisher's life.
 */
@NullMarked
package dev.pals.spring.reactive;

import org.jspecify.annotations.NullMarked;
