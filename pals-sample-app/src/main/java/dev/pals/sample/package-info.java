/**
 * A small service that uses PALs as its users would: a scheduled job that one instance runs per
 * tick, per-account locks on a REST endpoint, a manual lock from an injected registry, and a
 * migration step that instances take turns at.
 */
@NullMarked
package dev.pals.sample;

import org.jspecify.annotations.NullMarked;
