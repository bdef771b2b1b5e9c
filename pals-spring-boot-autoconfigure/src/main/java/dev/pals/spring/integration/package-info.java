/**
 * Spring Integration on advisory locks: the registry as Spring Integration's
 * {@code LockRegistry}, for its leader initiator, lock advice and {@code executeLocked}.
 */
@NullMarked
package dev.pals.spring.integration;

import org.jspecify.annotations.NullMarked;
