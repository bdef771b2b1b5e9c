package dev.pals.spring.jpa;

import jakarta.persistence.Entity;
import jakarta.persistence.Id;

/** A row that concurrent callers increment by read-then-write. */
@Entity
public class Counter {

    @Id
    private Long id;

    private long total;

    protected Counter() {
    }

    public Counter(long id) {
        this.id = id;
    }

    public long getTotal() {
        return total;
    }

    public void setTotal(long total) {
        this.total = total;
    }
}
