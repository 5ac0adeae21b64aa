package skafos.driver;

import java.io.InputStream;
import java.lang.reflect.Method;
import java.util.Arrays;

/**
 * Runs another program's main (here kafka.Kafka) and exits, through the JVM's shutdown hooks, once stdin reaches
 * its end: the test process holds the other end of that pipe, so the reference broker cannot outlive it even
 * when it is killed with SIGKILL.
 *
 * <pre>  java -cp ... skafos.driver.ParentWatch kafka.Kafka server.properties</pre>
 */
public final class ParentWatch {
  private ParentWatch() {}

  public static void main(String[] args) throws Exception {
    Thread watch = new Thread(() -> {
      try {
        InputStream in = System.in;
        byte[] buf = new byte[256];
        while (in.read(buf) >= 0) {
          // nothing is ever sent; wait for the end
        }
      } catch (Exception e) {
        // a broken pipe means the same
      }
      System.err.println("ParentWatch: stdin closed, exiting");
      System.exit(1);
    }, "parent-watch");
    watch.setDaemon(true);
    watch.start();
    Method main = Class.forName(args[0]).getMethod("main", String[].class);
    main.invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
  }
}
